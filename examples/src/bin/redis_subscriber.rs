//! Tutorial 18: subscribe to channels and print every message; type
//! commands to change the subscription while it runs:
//! `sub <ch>…`, `unsub [<ch>…]`, `psub <pattern>…`, `punsub [<pattern>…]`,
//! `ping [msg]`, `quit`. The task ends when nothing is subscribed, and on
//! SIGTERM or SIGINT (Ctrl-C), which unsubscribe cleanly (`QUIT`). Without
//! a terminal (standard input closed or `/dev/null`) it just prints.
//!
//! `cargo run -p examples --bin redis_subscriber -- redis://127.0.0.1:6379 news sport`

#![forbid(unsafe_code)]

use std::io::BufRead;
use std::time::Duration;

use wf::State;
use wf::redis::RedisSubscriber;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: {} <redis URL> <channel>...", args[0]);
        std::process::exit(1);
    }
    // First, so that a stop request during start-up is not lost.
    if let Err(e) = wf::signal::install_shutdown_handler() {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    let subscriber = RedisSubscriber::new(&args[1]);
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let mut task = subscriber.create_subscribe_task(
        args[2..].iter(),
        |_, message| println!("{message}"),
        move |t| {
            match t.state() {
                State::Success => println!("subscription ended"),
                _ => eprintln!("subscription failed: {}", t.error_text()),
            }
            let _ = done_tx.send(());
        },
    );
    // With no message (or ping answer) for 5 minutes, give up.
    task.set_watch_timeout(Duration::from_secs(300));
    let handle = task.handle();
    task.start();

    // SIGTERM or SIGINT: leave cleanly.
    let on_signal = handle.clone();
    std::thread::spawn(move || {
        if let Ok(signal) = wf::signal::wait_for_shutdown() {
            eprintln!("{signal}: quitting");
            let _ = on_signal.quit();
        }
    });

    // Read commands until the task ends.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let words: Vec<&str> = line.split_whitespace().collect();
            let r = match words.as_slice() {
                ["sub", chans @ ..] => handle.subscribe(chans.iter().copied()),
                ["unsub", chans @ ..] => handle.unsubscribe(chans.iter().copied()),
                ["psub", pats @ ..] => handle.psubscribe(pats.iter().copied()),
                ["punsub", pats @ ..] => handle.punsubscribe(pats.iter().copied()),
                ["ping"] => handle.ping(None),
                ["ping", msg] => handle.ping(Some(msg)),
                ["quit"] => handle.quit(),
                [] => Ok(()),
                _ => {
                    eprintln!("commands: sub, unsub, psub, punsub, ping, quit");
                    Ok(())
                }
            };
            if r.is_err() {
                break;
            }
        }
    });
    let _ = done_rx.recv();
    wf::wait_finish();
}
