//! The tour's embedded key-value server, answering wf's own RedisTask and
//! the real `redis-cli`.

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use examples::kv::KvServer;
use wf::State;
use wf::redis::{RedisValue, create_redis_task};

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (install it: `sudo apt-get install -y redis-tools`, or run `cargo xtask test`)");
    assert!(out.status.success(), "redis-cli failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("text").trim_end().to_owned()
}

fn start() -> (KvServer, u16) {
    let server = KvServer::new();
    server.start_on("127.0.0.1", 0).expect("listen");
    let port = server.listen_addr().expect("listening").port();
    (server, port)
}

#[test]
fn redis_cli_talks_to_it() {
    let (server, port) = start();
    assert_eq!(cli(port, &["PING"]), "PONG");
    assert_eq!(cli(port, &["SET", "greeting", "hello world"]), "OK");
    assert_eq!(cli(port, &["GET", "greeting"]), "hello world");
    assert_eq!(cli(port, &["INCRBY", "n", "5"]), "5");
    assert_eq!(cli(port, &["EXPIRE", "n", "100"]), "1");
    assert_eq!(cli(port, &["TTL", "n"]), "100");
    assert_eq!(cli(port, &["DEL", "greeting", "n", "missing"]), "2");
    assert_eq!(cli(port, &["GET", "greeting"]), "");
    assert!(cli(port, &["NOSUCHCMD"]).starts_with("ERR unknown command"));
    server.stop();
}

#[test]
fn redis_tasks_in_a_series() {
    let (server, port) = start();
    let url = format!("redis://127.0.0.1:{port}/");
    let (tx, rx) = mpsc::channel();
    let (tx2, url2) = (tx.clone(), url.clone());
    let mut set = create_redis_task(&url, 0, move |t| {
        tx.send((t.state(), t.result().clone())).unwrap();
        let mut get = create_redis_task(&url2, 0, move |t| tx2.send((t.state(), t.result().clone())).unwrap());
        get.set_request("GET", ["k"]);
        wf::series_of(t).push_back(get);
    });
    set.set_request("SET", ["k", "v", "PX", "60000"]);
    set.start();
    let wait = Duration::from_secs(10);
    assert_eq!(rx.recv_timeout(wait).unwrap(), (State::Success, RedisValue::ok()));
    assert_eq!(rx.recv_timeout(wait).unwrap(), (State::Success, RedisValue::from("v")));
    assert_eq!(server.store().execute(&["DBSIZE".into()]), RedisValue::Integer(1));
    server.stop();
}
