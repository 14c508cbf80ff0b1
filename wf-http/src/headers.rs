//! Header fields in the order and case they were received or set with.

use bytes::Bytes;
use http::HeaderValue;

/// One field: its name as written, and its value.
#[derive(Clone)]
struct Field {
    /// A token (RFC 9110 §5.1), so ASCII.
    name: Bytes,
    value: HeaderValue,
}

/// Whether the field name `name` is `expected`: names compare with ASCII
/// case ignored (RFC 9110 §5.1).
pub(crate) fn name_is(name: &[u8], expected: &[u8]) -> bool {
    name.len() == expected.len() && name.eq_ignore_ascii_case(expected)
}

impl Field {
    fn is(&self, name: &[u8]) -> bool {
        name_is(&self.name, name)
    }

    fn name_str(&self) -> &str {
        // Names are checked to be tokens (ASCII) when they are added.
        std::str::from_utf8(&self.name).unwrap_or("")
    }
}

/// The header fields of an HTTP message, in order, each name as it was
/// received or set (Workflow's header list, read with `HttpHeaderCursor`).
///
/// A message goes out with its fields in this order and these names, so
/// a legacy peer that wants `X-Custom-Auth` rather than `x-custom-auth`, or
/// a signature over the fields in order, gets what was set. Lookups ignore
/// case; fields with the same name keep their order, wherever they are.
/// Lookups scan the fields (a message has a few, and at most the codec's
/// `max_headers` when received), which is cheaper than hashing for the
/// usual dozen.
///
/// ```
/// use http::HeaderValue;
/// use wf_http::Headers;
///
/// let mut h = Headers::new();
/// h.append("X-Trace", HeaderValue::from_static("a"));
/// h.append("Accept", HeaderValue::from_static("*/*"));
/// h.append("x-trace", HeaderValue::from_static("b"));
/// assert_eq!(h.get("X-TRACE").unwrap(), "a");
/// assert_eq!(h.get_all("x-trace").collect::<Vec<_>>(), ["a", "b"]);
/// let names: Vec<&str> = h.iter().map(|(name, _)| name).collect();
/// assert_eq!(names, ["X-Trace", "Accept", "x-trace"]);
/// // `insert` replaces the first in place and drops the others.
/// h.insert("X-TRACE", HeaderValue::from_static("c"));
/// let fields: Vec<(&str, &str)> = h.iter().map(|(n, v)| (n, v.to_str().unwrap())).collect();
/// assert_eq!(fields, [("X-TRACE", "c"), ("Accept", "*/*")]);
/// ```
#[derive(Clone, Default)]
pub struct Headers {
    fields: Vec<Field>,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Headers {
    /// No fields.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// No fields, with room for `n`.
    pub fn with_capacity(n: usize) -> Headers {
        Headers { fields: Vec::with_capacity(n) }
    }

    /// How many fields (each of several with one name counts).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        self.fields.clear();
    }

    /// The value of the first field named `name` (any case).
    pub fn get(&self, name: impl AsRef<str>) -> Option<&HeaderValue> {
        let name = name.as_ref().as_bytes();
        self.fields.iter().find(|f| f.is(name)).map(|f| &f.value)
    }

    /// The values of every field named `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> GetAll<'a> {
        GetAll { fields: self.fields.iter(), name: name.as_bytes() }
    }

    /// Whether a field is named `name` (any case).
    pub fn contains_key(&self, name: impl AsRef<str>) -> bool {
        let name = name.as_ref().as_bytes();
        self.fields.iter().any(|f| f.is(name))
    }

    /// Adds a field at the end, after any of the same name; false (and no
    /// change) when `name` is not a token (RFC 9110 §5.1).
    pub fn append(&mut self, name: impl AsRef<str>, value: HeaderValue) -> bool {
        match field_name(name.as_ref()) {
            Some(name) => {
                self.fields.push(Field { name, value });
                true
            }
            None => false,
        }
    }

    /// Sets the field `name`: the first of that name (any case) takes the
    /// new name and value where it stands, later ones are removed; with
    /// none, the field is added at the end. False (and no change) when
    /// `name` is not a token.
    pub fn insert(&mut self, name: impl AsRef<str>, value: HeaderValue) -> bool {
        match field_name(name.as_ref()) {
            Some(name) => {
                self.set(name, value);
                true
            }
            None => false,
        }
    }

    /// Removes every field named `name` (any case); how many there were.
    pub fn remove(&mut self, name: impl AsRef<str>) -> usize {
        let name = name.as_ref().as_bytes();
        let before = self.fields.len();
        self.fields.retain(|f| !f.is(name));
        before - self.fields.len()
    }

    /// Keeps only the fields `keep` returns true for (Workflow's
    /// `HttpHeaderCursor::erase` while walking the fields).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &HeaderValue) -> bool) {
        self.fields.retain(|f| keep(f.name_str(), &f.value));
    }

    /// The fields in order, each name as received or set (Workflow's
    /// `HttpHeaderCursor`).
    pub fn iter(&self) -> Iter<'_> {
        Iter { fields: self.fields.iter() }
    }

    /// Sets `name` (a known token) as [`insert`](Self::insert) does.
    pub(crate) fn set(&mut self, name: Bytes, value: HeaderValue) {
        match self.fields.iter().position(|f| f.is(&name)) {
            Some(i) => {
                if self.fields[i + 1..].iter().any(|f| f.is(&name)) {
                    let tail = self.fields.split_off(i + 1);
                    self.fields.extend(tail.into_iter().filter(|f| !f.is(&name)));
                }
                self.fields[i] = Field { name, value };
            }
            None => self.fields.push(Field { name, value }),
        }
    }

    /// Sets `name` where it stands, or as the first field when absent
    /// (where a request's `Host` goes: RFC 9112 §3.2).
    pub(crate) fn set_first(&mut self, name: &'static str, value: HeaderValue) {
        if self.contains_key(name) {
            self.set(Bytes::from_static(name.as_bytes()), value);
        } else {
            self.fields.insert(0, Field { name: Bytes::from_static(name.as_bytes()), value });
        }
    }

    /// Sets `name` as [`insert`](Self::insert) does, for wf's own fields.
    pub(crate) fn set_static(&mut self, name: &'static str, value: HeaderValue) {
        self.set(Bytes::from_static(name.as_bytes()), value);
    }

    /// Adds a received field (its name checked by the parser).
    pub(crate) fn push_parsed(&mut self, name: Bytes, value: HeaderValue) {
        self.fields.push(Field { name, value });
    }

    /// The fields as raw name and value bytes, for the encoder.
    pub(crate) fn raw(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|f| (&f.name[..], f.value.as_bytes()))
    }
}

/// A field name to keep: a token, shared when it is one of the usual ones
/// spelled the usual way (known tokens: no check), copied otherwise.
fn field_name(name: &str) -> Option<Bytes> {
    macro_rules! known {
        ($($n:literal)*) => {
            match name {
                $($n => return Some(Bytes::from_static($n.as_bytes())),)*
                _ => {}
            }
        };
    }
    known!(
        "Accept" "Accept-Encoding" "Accept-Language" "Authorization" "Cache-Control" "Connection"
        "Content-Encoding" "Content-Length" "Content-Type" "Cookie" "Date" "ETag" "Expect" "Host"
        "Keep-Alive" "Last-Modified" "Location" "Origin" "Referer" "Server" "Set-Cookie"
        "Transfer-Encoding" "User-Agent" "content-type" "content-length"
    );
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return None;
    }
    Some(Bytes::copy_from_slice(name.as_bytes()))
}

/// A `tchar` of RFC 9110's `token`.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Which bytes are `tchar`s: one load per byte of a name.
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        b += 1;
    }
    table
};

/// The fields of a [`Headers`] in order: `(name as written, value)`.
#[derive(Clone, Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Iter<'a> {
    fields: std::slice::Iter<'a, Field>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a HeaderValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.fields.next().map(|f| (f.name_str(), &f.value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.fields.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, &'a HeaderValue);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The values of the fields of one name, in order.
#[derive(Clone, Debug)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct GetAll<'a> {
    fields: std::slice::Iter<'a, Field>,
    name: &'a [u8],
}

impl<'a> Iterator for GetAll<'a> {
    type Item = &'a HeaderValue;

    fn next(&mut self) -> Option<&'a HeaderValue> {
        let name = self.name;
        self.fields.find(|f| f.is(name)).map(|f| &f.value)
    }
}

impl<'a> DoubleEndedIterator for GetAll<'a> {
    fn next_back(&mut self) -> Option<&'a HeaderValue> {
        let name = self.name;
        self.fields.rfind(|f| f.is(name)).map(|f| &f.value)
    }
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:?}", self.name_str(), self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    fn pairs(h: &Headers) -> Vec<(String, String)> {
        h.iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string())).collect()
    }

    #[test]
    fn order_case_and_duplicates_are_kept() {
        let mut h = Headers::new();
        for (n, val) in [("X-B", "1"), ("x-a", "2"), ("X-b", "3"), ("CONTENT-type", "t")] {
            assert!(h.append(n, v(val)));
        }
        assert_eq!(
            pairs(&h),
            [("X-B", "1"), ("x-a", "2"), ("X-b", "3"), ("CONTENT-type", "t")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(h.get_all("x-B").map(|v| v.to_str().unwrap()).collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(h.get(http::header::CONTENT_TYPE).unwrap(), "t");
        assert!(h.contains_key("Content-Type") && !h.contains_key("Content"));
        assert_eq!(h.remove("x-b"), 2);
        assert_eq!(pairs(&h).len(), 2);
    }

    #[test]
    fn insert_keeps_the_first_place() {
        let mut h = Headers::new();
        h.append("A", v("1"));
        h.append("B", v("2"));
        h.append("a", v("3"));
        h.append("C", v("4"));
        h.insert("A", v("5"));
        assert_eq!(
            h.iter().map(|(n, v)| format!("{n}={}", v.to_str().unwrap())).collect::<Vec<_>>(),
            ["A=5", "B=2", "C=4"]
        );
        h.insert("D", v("6"));
        assert_eq!(h.iter().last().unwrap().0, "D");
        h.set_first("Host", v("h"));
        assert_eq!(h.iter().next().unwrap().0, "Host");
        h.set_first("host", v("i"));
        assert_eq!((h.iter().next().unwrap().0, h.len()), ("host", 5));
    }

    #[test]
    fn names_must_be_tokens() {
        let mut h = Headers::new();
        for bad in ["", "A B", "A:", "Ä", "a\r\nb"] {
            assert!(!h.append(bad, v("x")), "{bad:?}");
            assert!(!h.insert(bad, v("x")), "{bad:?}");
        }
        assert!(h.is_empty());
        h.retain(|_, _| false);
        assert!(h.append("X-Ok~1", v("x")));
        h.retain(|n, _| n != "X-Ok~1");
        assert!(h.is_empty());
    }

    #[test]
    fn names_compare_with_ascii_case_ignored() {
        assert!(name_is(b"content-LENGTH", b"Content-Length"));
        assert!(!name_is(b"Content-Lengths", b"Content-Length"));
        assert!(!name_is(b"Content_Length", b"Content-Length"));
        // Only ASCII letters fold: a byte with the high bit is no letter.
        assert!(!name_is(b"Hos\xf4", b"Host"));
    }
}
