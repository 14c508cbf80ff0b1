//! Tutorial 12: an interactive MySQL client. Each line read at the
//! `mysql> ` prompt is sent as one task (several statements separated by
//! `;` make one multi-statement query); its callback walks every result
//! with a `MySQLResultCursor` and prints tables as the `mysql` client does.
//! The next prompt waits for the callback. `quit`, `exit` or end of input
//! ends it.
//!
//! `cargo run -p examples --bin mysql_cli -- mysql://user:password@127.0.0.1:3306/db`

#![forbid(unsafe_code)]

use std::io::{BufRead, IsTerminal, Write};
use std::sync::mpsc;

use wf::State;
use wf::mysql::{CursorStatus, MySQLCell, MySQLResponse, MySQLResultCursor, MySQLTask, create_mysql_task};

/// Column types the `mysql` client right-aligns (`MYSQL_TYPE_*`: the
/// decimals, the integers, `FLOAT`, `DOUBLE`, `YEAR`).
fn is_numeric(data_type: u8) -> bool {
    matches!(data_type, 0..=5 | 8 | 9 | 13 | 246)
}

/// Formats a result set as the `mysql` client prints it: `+---+` borders,
/// the column names, then the rows; `right[i]` right-aligns column `i`.
fn table(names: &[&str], right: &[bool], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = names.iter().map(|n| width(n)).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let border: String = widths.iter().map(|w| format!("+{}", "-".repeat(w + 2))).collect::<String>() + "+\n";
    let line = |cells: &mut dyn Iterator<Item = (&str, bool)>| {
        let mut out = String::new();
        for ((cell, right), w) in cells.zip(&widths) {
            let pad = " ".repeat(w - width(cell));
            if right {
                out += &format!("| {pad}{cell} ");
            } else {
                out += &format!("| {cell}{pad} ");
            }
        }
        out + "|\n"
    };
    let mut out = border.clone();
    out += &line(&mut names.iter().map(|n| (*n, false)));
    out += &border;
    for row in rows {
        out += &line(&mut row.iter().map(String::as_str).zip(right.iter().copied().chain(std::iter::repeat(false))));
    }
    out + &border
}

/// `1 row` or `N rows`.
fn rows(n: u64) -> String {
    format!("{n} row{}", if n == 1 { "" } else { "s" })
}

/// Everything a response says, result by result: tables, OKs, errors.
fn render(resp: &MySQLResponse) -> String {
    let mut out = String::new();
    let mut cursor = MySQLResultCursor::new(resp);
    loop {
        match cursor.status() {
            CursorStatus::GetResult => {
                let fields = cursor.fetch_fields();
                let all: Vec<Vec<String>> =
                    cursor.fetch_all().iter().map(|row| row.iter().map(MySQLCell::to_string).collect()).collect();
                if all.is_empty() {
                    out += "Empty set\n";
                } else {
                    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
                    let right: Vec<bool> = fields.iter().map(|f| is_numeric(f.data_type())).collect();
                    out += &table(&names, &right, &all);
                    out += &format!("{} in set\n", rows(all.len() as u64));
                }
            }
            CursorStatus::Ok => {
                out += &format!("Query OK, {} affected", rows(cursor.affected_rows()));
                match cursor.warnings() {
                    0 => {}
                    1 => out += ", 1 warning",
                    w => out += &format!(", {w} warnings"),
                }
                if cursor.insert_id() != 0 {
                    out += &format!(", insert id {}", cursor.insert_id());
                }
                out += "\n";
                if !cursor.info().is_empty() {
                    out += &format!("{}\n", cursor.info());
                }
            }
            CursorStatus::Error => {
                let (code, state, message) = cursor.error().unwrap_or_default();
                out += &format!("ERROR {code} ({state}): {message}\n");
            }
            CursorStatus::End => break,
        }
        out += "\n";
        cursor.next_result_set();
    }
    out
}

fn mysql_callback(task: &mut MySQLTask) -> String {
    if task.state() != State::Success {
        return format!(
            "ERROR: {} (state {}, error {})\n\n",
            task.error_text(),
            task.state() as i32,
            task.error_code()
        );
    }
    render(task.resp())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprintln!("usage: {} <mysql URL>   (mysql://user:password@host[:port][/db])", args[0]);
        std::process::exit(1);
    }
    let mut url = args[1].clone();
    if !url.starts_with("mysql://") && !url.starts_with("mysqls://") {
        url = format!("mysql://{url}");
    }
    let stdin = std::io::stdin();
    // Piped input is echoed after the prompt, so that a transcript reads
    // like a session at the terminal.
    let echo = !stdin.is_terminal();
    let mut lines = stdin.lock().lines();
    loop {
        print!("mysql> ");
        let _ = std::io::stdout().flush();
        let Some(Ok(line)) = lines.next() else {
            println!();
            break;
        };
        if echo {
            println!("{line}");
        }
        let sql = line.trim().trim_end_matches(|c: char| c == ';' || c.is_whitespace());
        if sql.is_empty() {
            continue;
        }
        if sql.eq_ignore_ascii_case("quit") || sql.eq_ignore_ascii_case("exit") {
            break;
        }
        // The callback runs on wf's threads; the prompt waits for it here.
        let (done, wait) = mpsc::channel();
        let mut task = create_mysql_task(&url, 0, move |t| {
            let _ = done.send(mysql_callback(t));
        });
        task.set_query(sql.to_owned());
        task.start();
        match wait.recv() {
            Ok(text) => print!("{text}"),
            Err(_) => println!("ERROR: the task ended without its callback\n"),
        }
    }
    println!("Bye");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_look_like_the_mysql_clients() {
        let rows = vec![vec!["1".to_owned(), "wf".to_owned()], vec!["1000".to_owned(), "NULL".to_owned()]];
        let expected = "\
+------+------+
| id   | name |
+------+------+
|    1 | wf   |
| 1000 | NULL |
+------+------+
";
        assert_eq!(table(&["id", "name"], &[true, false], &rows), expected);
        // Widths count characters, not bytes.
        let expected = "\
+-------+
| x     |
+-------+
| héllo |
+-------+
";
        assert_eq!(table(&["x"], &[false], &[vec!["héllo".to_owned()]]), expected);
    }

    #[test]
    fn responses_render_every_result() {
        let mut resp = MySQLResponse::default();
        resp.set_result_set(&["a"], [[Some("x".to_owned())]]);
        assert_eq!(render(&resp), "+---+\n| a |\n+---+\n| x |\n+---+\n1 row in set\n\n");
        resp.set_result_set(&["a"], Vec::<[Option<String>; 1]>::new());
        assert_eq!(render(&resp), "Empty set\n\n");
        resp.set_ok_packet(2, 7);
        assert_eq!(render(&resp), "Query OK, 2 rows affected, insert id 7\n\n");
        resp.set_error_packet(1054, "42S22", "Unknown column 'x'");
        assert_eq!(render(&resp), "ERROR 1054 (42S22): Unknown column 'x'\n\n");
    }
}
