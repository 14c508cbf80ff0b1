//! Module tasks: a sub-series packaged as one task, with its own context and pushes; the
//! module's callback runs after the whole sub-series.

use crate::support;

use std::sync::mpsc;

use support::{Log, recv};
use wf_core::{State, create_empty_task, create_go_task, create_module_task, create_series_work, series_of};

#[test]
fn module_runs_sub_series_then_callback() {
    let log = Log::<String>::new();
    let l = log.clone();
    let first = create_go_task("control_module", || 1u32).with_callback(move |t| {
        let v = t.take_result().unwrap();
        l.push(format!("sub 1 = {v}"));
        let s = series_of(t);
        *s.context_mut::<u32>().unwrap() += v;
        let l = l.clone();
        // A push inside the module runs inside the module.
        s.push_back(create_go_task("control_module", || 10u32).with_callback(move |t| {
            let v = t.take_result().unwrap();
            l.push(format!("pushed = {v}"));
            *series_of(t).context_mut::<u32>().unwrap() += v;
        }));
    });
    let l = log.clone();
    let mut m = create_module_task(first, move |m| {
        let ctx = m.sub_series().take_context::<u32>();
        l.push(format!("module {:?} ctx={ctx:?}", m.state()));
    });
    m.sub_series().set_context(0u32);
    let l = log.clone();
    m.sub_series().push_back(create_empty_task().with_callback(move |t| {
        l.push("sub 2".to_string());
        *series_of(t).context_mut::<u32>().unwrap() += 100;
    }));
    let (tx, rx) = mpsc::channel();
    let l = log.clone();
    let before = create_empty_task().with_callback(move |_| l.push("before".to_string()));
    let mut outer = create_series_work(before, move |s| tx.send(s.context::<&str>().copied()).unwrap());
    outer.set_context("outer context");
    outer.push_back(m);
    let l = log.clone();
    outer.push_back(create_empty_task().with_callback(move |t| {
        // Tasks after the module see the outer series again.
        l.push(format!("after, outer ctx {:?}", series_of(t).context::<&str>()));
    }));
    outer.start();
    assert_eq!(recv(&rx), Some("outer context"));
    assert_eq!(
        log.get(),
        [
            "before".to_string(),
            "sub 1 = 1".to_string(),
            "sub 2".to_string(),
            "pushed = 10".to_string(),
            format!("module {:?} ctx=Some(111)", State::Success),
            "after, outer ctx Some(\"outer context\")".to_string(),
        ]
    );
}

/// Canceling the sub-series ends the module early; the outer series goes on.
#[test]
fn canceled_sub_series_ends_module_only() {
    let log = Log::<String>::new();
    let l = log.clone();
    let first = create_empty_task().with_callback(move |t| {
        l.push("sub first".to_string());
        series_of(t).cancel();
    });
    let l = log.clone();
    let mut m = create_module_task(first, move |m| l.push(format!("module canceled={}", m.sub_series().is_canceled())));
    let l = log.clone();
    m.sub_series().push_back(create_empty_task().with_callback(move |_| l.push("sub second".to_string())));
    let (tx, rx) = mpsc::channel();
    let mut outer = create_series_work(m, move |s| tx.send(s.is_canceled()).unwrap());
    let l = log.clone();
    outer.push_back(create_empty_task().with_callback(move |_| l.push("after".to_string())));
    outer.start();
    assert!(!recv(&rx));
    assert_eq!(log.get(), ["sub first", "module canceled=true", "after"]);
}
