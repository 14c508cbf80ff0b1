//! Escaping for SQL string literals.

/// Escapes `s` for use inside a quoted SQL string literal, as
/// `mysql_real_escape_string` does: NUL, newline, carriage return,
/// backslash, quotes and Ctrl-Z get a backslash. (Prepared statements
/// need no escaping at all.)
///
/// ```
/// assert_eq!(wf_mysql::escape_string("it's \"x\"\n\\"), r#"it\'s \"x\"\n\\"#);
/// ```
pub fn escape_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\x1a' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out
}

/// [`escape_string`] inside single quotes: a complete literal.
pub fn escape_string_quote(s: &str) -> String {
    format!("'{}'", escape_string(s))
}
