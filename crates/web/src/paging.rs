//! Pages of "my events": the query both the page (`/events`) and the API
//! (`GET /api/events`) take, and how a place in the list is written.
//!
//! The list runs latest deadline first. A page is at most
//! [`PAGE_SIZE`] events (the API may ask for 1 to [`MAX_PAGE_SIZE`] with
//! `limit`), and names the places its neighbours start from:
//! `?after=PLACE` for the next page, `?before=PLACE` for the previous one.
//! A place is the deadline and id of the event beside it
//! (`1767261600.k7mq2xwt9a`); clients should treat it as opaque text.
//!
//! Places rather than page numbers: a page number is an offset, and every
//! event created or finished before it shifts the list under the reader,
//! who then sees one event twice or misses one. A place stays put, and the
//! database finds it through `(deadline, id)` without counting the rows
//! before it.

use convene_events::db::{EventCursor, PageOf};
use convene_events::ids::is_event_id;
pub use convene_events::service::{MAX_PAGE_SIZE, PAGE_SIZE};

/// What a request asks for: which page, and how many events at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    /// The first page, or the one after or before a place.
    pub page: PageOf,
    /// How many events at most.
    pub limit: usize,
}

/// A place as written in an address: `deadline.id`.
pub fn place_text(place: &EventCursor) -> String {
    format!("{}.{}", place.deadline, place.id)
}

/// Reads [`place_text`]'s form back; `None` for anything else.
pub fn parse_place(text: &str) -> Option<EventCursor> {
    let (deadline, id) = text.split_once('.')?;
    let deadline = deadline.parse().ok()?;
    is_event_id(id).then(|| EventCursor {
        deadline,
        id: id.to_string(),
    })
}

/// Reads `after`, `before` and `limit` from a query string (other keys
/// are ignored); the problem in words if they do not make sense.
pub fn read_query(query: Option<&str>) -> Result<PageQuery, String> {
    let mut page = PageOf::First;
    let mut limit = PAGE_SIZE;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let place = || {
            parse_place(&value).ok_or_else(|| {
                format!("{key}: {value:?} is not a place in the list (use the `next` or `previous` given)")
            })
        };
        match &*key {
            "after" | "before" if page != PageOf::First => {
                return Err("give either after or before, once".into());
            }
            "after" => page = PageOf::After(place()?),
            "before" => page = PageOf::Before(place()?),
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
                    .ok_or_else(|| format!("limit: give a number from 1 to {MAX_PAGE_SIZE}"))?;
            }
            _ => {}
        }
    }
    Ok(PageQuery { page, limit })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(deadline: i64, id: &str) -> EventCursor {
        EventCursor {
            deadline,
            id: id.into(),
        }
    }

    #[test]
    fn places_round_trip_and_refuse_junk() {
        let p = place(1_767_261_600, "k7mq2xwt9a");
        assert_eq!(place_text(&p), "1767261600.k7mq2xwt9a");
        assert_eq!(parse_place("1767261600.k7mq2xwt9a"), Some(p));
        assert_eq!(parse_place("-5.k7mq2xwt9a"), Some(place(-5, "k7mq2xwt9a")));
        for bad in [
            "",
            "1767261600",
            "x.k7mq2xwt9a",
            "1767261600.K7MQ2XWT9A",
            "1767261600.k7mq2xwt9a.x",
            "1.../../etc",
        ] {
            assert_eq!(parse_place(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn queries_name_a_page_and_a_size() {
        assert_eq!(
            read_query(None),
            Ok(PageQuery {
                page: PageOf::First,
                limit: PAGE_SIZE
            })
        );
        assert_eq!(
            read_query(Some("after=100.abcdefghjk&limit=7&x=1")),
            Ok(PageQuery {
                page: PageOf::After(place(100, "abcdefghjk")),
                limit: 7
            })
        );
        assert_eq!(
            read_query(Some("before=100.abcdefghjk")).unwrap().page,
            PageOf::Before(place(100, "abcdefghjk"))
        );
        assert!(
            read_query(Some("after=100.abcdefghjk&before=100.abcdefghjk"))
                .unwrap_err()
                .contains("either after or before")
        );
        assert!(read_query(Some("limit=0")).is_err());
        assert!(read_query(Some("limit=101")).is_err());
        assert!(read_query(Some("limit=ten")).is_err());
        assert!(
            read_query(Some("after=nowhere"))
                .unwrap_err()
                .starts_with("after: \"nowhere\" is not a place")
        );
    }
}
