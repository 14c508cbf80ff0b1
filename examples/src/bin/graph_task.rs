//! Tutorial 11: a graph task.
//!
//! `cargo run --release -p examples --bin graph_task`
//!
//! ```text
//!         +--> b (timer 100 ms) --+
//!   a ----+                       +--> d
//!         +--> c (go task) -------+
//! ```
//! `a` runs first; `b` and `c` together; `d` once both finished.

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use wf::timer::create_timer_task;
use wf::{create_go_task, create_graph_task};

fn main() {
    let t0 = Instant::now();
    let at = move || format!("{:>6.1} ms", t0.elapsed().as_secs_f64() * 1e3);

    let mut graph = create_graph_task(move |g| println!("{}  graph finished: {}", at(), g.state()));
    let a = graph.create_graph_node(create_timer_task(Duration::from_millis(50), move |_| println!("{}  a", at())));
    let b = graph.create_graph_node(create_timer_task(Duration::from_millis(100), move |_| println!("{}  b", at())));
    let c = graph.create_graph_node(
        create_go_task("graph", || (1..=1_000_000u64).sum::<u64>())
            .with_callback(move |t| println!("{}  c: sum = {}", at(), t.result().unwrap())),
    );
    let d = graph.create_graph_node(create_go_task("graph", || ()).with_callback(move |_| println!("{}  d", at())));
    graph.precede(a, b);
    graph.precede(a, c);
    graph.precede(b, d);
    graph.precede(c, d);
    graph.start();
    wf::wait_finish();

    // A cycle is reported when the graph starts; no node runs.
    let mut cyclic = create_graph_task(|g| println!("cyclic graph: {} ({})", g.state(), g.error_text()));
    let x = cyclic.create_graph_node(create_go_task("graph", || println!("never printed")));
    let y = cyclic.create_graph_node(create_go_task("graph", || println!("never printed")));
    cyclic.precede(x, y);
    cyclic.precede(y, x);
    cyclic.start();
    wf::wait_finish();
}
