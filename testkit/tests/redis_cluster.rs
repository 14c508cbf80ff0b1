//! The hermetic Redis Cluster forms: three masters covering every slot,
//! a replica for each.

use testkit::redis_cluster::RedisCluster;

#[test]
fn cluster_forms_with_three_masters_and_their_replicas() {
    let cluster = RedisCluster::start();
    let masters = cluster.masters();
    assert_eq!(masters.len(), 3, "{:?}", cluster.nodes_info(0));
    assert_eq!(cluster.replicas().len(), 3);
    for &m in &masters {
        let r = cluster.replica_of(m).expect("a replica");
        assert!(!masters.contains(&r));
    }
    let covered: u32 = cluster
        .nodes_info(0)
        .iter()
        .filter(|n| n.master)
        .flat_map(|n| n.slots.iter().map(|&(a, b)| u32::from(b - a) + 1))
        .sum();
    assert_eq!(covered, 16384);
    // "foo" hashes to slot 12182: its master takes the write, another
    // master redirects it.
    let owner = cluster.master_of_slot(12182);
    assert_eq!(cluster.cli_text(owner, &["SET", "foo", "bar"]), "OK");
    let other = masters.iter().copied().find(|&m| m != owner).unwrap();
    assert!(cluster.cli_text(other, &["GET", "foo"]).starts_with("MOVED 12182"));
}
