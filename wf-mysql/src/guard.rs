//! Statements a task may not run on a pooled connection.

/// Statements a task may not run: they would change the pooled
/// connection for whoever uses it next (the database and character set
/// come from the URL).
pub(crate) fn disallowed(sql: &[u8]) -> bool {
    // Each statement refused starts with `USE` or `SET`: SQL without
    // either word anywhere (most of it) needs no closer look.
    if !sql.windows(3).any(|w| w.eq_ignore_ascii_case(b"use") || w.eq_ignore_ascii_case(b"set")) {
        return false;
    }
    let text = executable_comments_opened(&String::from_utf8_lossy(sql));
    split_statements(&text).any(|stmt| {
        let words: Vec<String> = stmt.split_whitespace().take(3).map(str::to_ascii_uppercase).collect();
        let w = |i: usize| words.get(i).map(String::as_str);
        matches!(w(0), Some("USE"))
            || (w(0) == Some("SET")
                && (matches!(w(1), Some("NAMES") | Some("CHARSET"))
                    || (w(1) == Some("CHARACTER") && w(2) == Some("SET"))))
    })
}

/// `sql` with MySQL's executable comments (`/*!40101 SET NAMES x */`,
/// MariaDB's `/*M!… */`) opened: the server runs what they hold, so it is
/// checked like the rest.
fn executable_comments_opened(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let body = after.strip_prefix('!').or_else(|| after.strip_prefix("M!"));
        match body {
            Some(body) => {
                let body = body.trim_start_matches(|c: char| c.is_ascii_digit());
                let end = body.find("*/").unwrap_or(body.len());
                out.push(' ');
                out.push_str(&body[..end]);
                out.push(' ');
                rest = body.get(end + 2..).unwrap_or("");
            }
            None => {
                out.push_str("/*");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The statements of `sql` (split at `;` outside quotes and comments),
/// each without its leading comments.
fn split_statements(sql: &str) -> impl Iterator<Item = &str> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'-' if b.get(i + 1) == Some(&b'-') => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'#' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                        i += 1;
                    }
                    i += 1;
                }
                b';' => {
                    out.push(&sql[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    out.push(&sql[start.min(sql.len())..]);
    out.into_iter().map(strip_leading_comments)
}

fn strip_leading_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("/*") {
            s = rest.find("*/").map_or("", |i| &rest[i + 2..]);
        } else if s.starts_with("--") || s.starts_with('#') {
            s = s.find('\n').map_or("", |i| &s[i + 1..]);
        } else {
            return s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disallowed_statements() {
        assert!(disallowed(b"/*!40101 SET NAMES latin1 */"));
        assert!(disallowed(b"SELECT 1; /*M!100100 USE mysql */"));
        assert!(!disallowed(b"/* USE x */ SELECT 1"));
        assert!(disallowed(b"USE test"));
        assert!(disallowed(b"select 1; use test"));
        assert!(disallowed(b"/* hi */ set names utf8"));
        assert!(disallowed(b"SET CHARACTER SET gbk"));
        assert!(disallowed(b"-- c\nSET charset latin1"));
        assert!(!disallowed(b"SELECT 'USE x; SET NAMES y'"));
        assert!(!disallowed(b"SET @a = 1; SELECT `use`"));
        assert!(!disallowed(b"UPDATE users SET names = 'x'"));
        // Neither word anywhere: refused by the first look.
        assert!(!disallowed(b"SELECT 1"));
        assert!(!disallowed(b""));
        assert!(disallowed(b"uSe test"));
        assert!(disallowed(b"/*!sEt NaMeS gbk*/"));
    }
}
