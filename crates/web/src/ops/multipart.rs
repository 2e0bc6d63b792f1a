//! Just enough of `multipart/form-data` (RFC 7578) for the upload form of
//! `/files`: a browser can send a file's bytes no other way without a
//! script. The whole body is in memory already (bounded by the app's body
//! limit); this finds its parts, each part's `name`, its `filename` if it
//! has one, and its bytes. Anything malformed is `None`: the page then
//! says the form could not be read.

/// One part of a form.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The field's name.
    pub name: String,
    /// The file's name as the browser gave it, for a file field.
    pub filename: Option<String>,
    /// The content.
    pub bytes: &'a [u8],
}

/// The boundary named by a `Content-Type` value, if it is
/// `multipart/form-data`.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut pieces = content_type.split(';');
    let kind = pieces.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    pieces.find_map(|piece| {
        let (key, value) = piece.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// The parts of `body`, sent with `boundary`.
pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter has no line break before it.
    let mut rest = body.strip_prefix(&delimiter[2..])?;
    let mut parts = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, &delimiter)?;
        let (part, after) = rest.split_at(end);
        rest = &after[delimiter.len()..];
        let head_end = find(part, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&part[..head_end]).ok()?;
        let bytes = &part[head_end + 4..];
        let disposition = head.split("\r\n").find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })?;
        let name = parameter(disposition, "name")?;
        let filename = parameter(disposition, "filename");
        parts.push(Part {
            name,
            filename,
            bytes,
        });
    }
}

/// A quoted or bare `key=value` parameter of a header value.
fn parameter(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|piece| {
        let (k, v) = piece.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_upload_is_read() {
        let b = boundary("multipart/form-data; boundary=----X1").unwrap();
        assert_eq!(b, "----X1");
        let body = b"------X1\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n\
------X1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\n\
Content-Type: text/plain\r\n\r\nline 1\r\nline 2\r\n------X1--\r\n";
        let parts = parts(body, &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "csrf");
        assert_eq!(parts[0].bytes, b"abc");
        assert_eq!(parts[1].filename.as_deref(), Some("a b.txt"));
        assert_eq!(parts[1].bytes, b"line 1\r\nline 2");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        assert!(boundary("application/x-www-form-urlencoded").is_none());
        assert!(boundary("multipart/form-data").is_none());
        assert!(parts(b"garbage", "X").is_none());
        assert!(parts(b"--X\r\nno head end", "X").is_none());
        assert!(
            parts(
                b"--X\r\nContent-Disposition: form-data\r\n\r\nv\r\n--X--",
                "X"
            )
            .is_none()
        );
    }
}
