//! How a `RedisTask` fails: an error reply is a value of a successful task;
//! commands that would break a connection (`AUTH`, `SELECT`, `HELLO`,
//! `RESET`, `SUBSCRIBE`…) are `TASK_ERROR`/`REDIS_COMMAND_DISALLOWED`
//! (3002) without reaching the server; no command is `SYS_ERROR`/`EINVAL`;
//! a scheme other than `redis`/`rediss` is `URI_SCHEME_INVALID` (1002); a
//! server that is not there is a `SYS_ERROR`.

use crate::support;

use std::sync::OnceLock;

use support::{NONE, exec, query, run, s, status, task};
use wf_core::{State, code};
use wf_redis::RedisValue;

fn server() -> &'static (testkit::RedisServer, String) {
    static SERVER: OnceLock<(testkit::RedisServer, String)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let redis = testkit::RedisServer::start();
        let url = redis.url();
        (redis, url)
    })
}

fn url() -> &'static str {
    &server().1
}

#[test]
fn unknown_command_is_an_error_value() {
    let o = exec(url(), "NOSUCHCOMMAND", ["a"]);
    assert_eq!(o.state, State::Success);
    let v = o.value();
    assert!(v.is_error(), "{v:?}");
    assert!(v.as_str().unwrap().starts_with("ERR unknown command"), "{v:?}");
    // Wrong arity, likewise.
    let v = query(url(), "GET", NONE);
    assert!(v.as_str().unwrap().starts_with("ERR wrong number of arguments"), "{v:?}");
    // The shared connection is still in step after the errors.
    assert_eq!(query(url(), "ECHO", ["after"]), s("after"));
}

#[test]
fn connection_commands_are_disallowed() {
    // A server of its own: it counts the commands it processed.
    let redis = testkit::RedisServer::start();
    let url = &redis.url();
    let before = support::info_field(&redis, "stats", "total_commands_processed");
    let cases: &[(&str, &[&str])] = &[
        ("AUTH", &["pw"]),
        ("auth", &["user", "pw"]),
        ("SELECT", &["1"]),
        ("select", &["1"]),
        ("HELLO", &["3"]),
        ("RESET", &[]),
        ("SUBSCRIBE", &["ch"]),
        ("PSUBSCRIBE", &["ch*"]),
        ("SSUBSCRIBE", &["ch"]),
        ("ASKING", &[]),
        ("READONLY", &[]),
        ("readwrite", &[]),
        ("MONITOR", &[]),
        ("SYNC", &[]),
        ("PSYNC", &["?", "-1"]),
    ];
    for (command, params) in cases {
        let o = exec(url, command, params.iter().copied());
        assert_eq!(
            (o.state, o.error.code()),
            (State::TaskError, wf_redis::code::COMMAND_DISALLOWED),
            "{command}: {:?}",
            o.error
        );
        assert_eq!(
            o.error.to_string(),
            wf_core::get_error_string(State::TaskError, wf_redis::code::COMMAND_DISALLOWED)
        );
    }
    // Also inside a pipeline, after an allowed command: nothing is sent.
    let mut t = task(url, 0);
    t.req_mut().push_command("SET", ["errors:pipelined", "sent"]);
    t.req_mut().push_command("SELECT", ["2"]);
    run(t).assert_failed(State::TaskError, wf_redis::code::COMMAND_DISALLOWED);
    assert_eq!(query(url, "EXISTS", ["errors:pipelined"]), support::int(0));
    // Only the EXISTS (and the first INFO) reached the server.
    let after = support::info_field(&redis, "stats", "total_commands_processed");
    assert_eq!(after - before, 2, "a disallowed command reached the server");
}

#[test]
fn no_command_is_einval() {
    let o = run(task(url(), 0));
    o.assert_failed(State::SysError, libc::EINVAL);
    assert!(o.results.is_empty());
}

#[test]
fn wrong_scheme_is_uri_scheme_invalid() {
    let port = server().0.port();
    for url in
        [format!("http://127.0.0.1:{port}/"), format!("tcp://127.0.0.1:{port}"), format!("mysql://127.0.0.1:{port}")]
    {
        exec(&url, "PING", NONE).assert_failed(State::TaskError, code::URI_SCHEME_INVALID);
    }
}

#[test]
fn unparsable_url_is_uri_parse_failed() {
    for url in ["not a url", "redis://", ""] {
        let o = exec(url, "PING", NONE);
        assert_eq!(o.state, State::TaskError, "{url:?}: {:?}", o.error);
        assert!(
            [code::URI_PARSE_FAILED, code::URI_SCHEME_INVALID, code::URI_PORT_INVALID].contains(&o.error.code()),
            "{url:?}: {:?}",
            o.error
        );
    }
}

#[test]
fn nobody_listening_is_a_sys_error() {
    // A port that was free a moment ago; no Redis answers there.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut t = task(&format!("redis://127.0.0.1:{port}"), 1);
    t.set_request("PING", NONE);
    run(t).assert_failed(State::SysError, libc::ECONNREFUSED);
}

#[test]
fn error_reply_in_a_pipeline_does_not_fail_the_others() {
    query(url(), "SET", ["errors:text", "abc"]);
    let mut t = task(url(), 0);
    t.req_mut().push_command("INCR", ["errors:text"]);
    t.req_mut().push_command("GET", ["errors:text"]);
    t.req_mut().push_command("NOSUCH", NONE);
    t.req_mut().push_command("PING", NONE);
    let o = run(t);
    o.ok();
    assert_eq!(o.results.len(), 4);
    assert!(o.results[0].is_error());
    assert_eq!(o.results[1], s("abc"));
    assert!(o.results[2].is_error());
    assert_eq!(o.results[3], status("PONG"));
    assert_eq!(o.results[0], RedisValue::error("ERR value is not an integer or out of range"));
}
