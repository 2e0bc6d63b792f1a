//! Reading the text [`Metrics::encode`](crate::Metrics::encode) writes
//! back into numbers: for tests that check counters moved with the traffic
//! they sent, and for `convene bench` to time a scrape end to end.
//!
//! It reads the sample lines of the Prometheus text format and of
//! OpenMetrics (`name{label="value",...} number [timestamp]`), skips the
//! `#` lines (`HELP`, `TYPE`, `UNIT`, `EOF`), and unescapes label values
//! (`\\`, `\"`, `\n`). It is not a validating parser: Prometheus is the
//! judge of the format; this only has to read what we write, and refuse,
//! naming the line, what it cannot read.

use std::collections::BTreeMap;

/// One sample: a series (name and labels) and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series' name, `convene_requests_total`.
    pub name: String,
    /// Its labels, by name.
    pub labels: BTreeMap<String, String>,
    /// Its value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
}

/// Every sample of one scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples(pub Vec<Sample>);

/// A line the reader could not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Its number, from 1.
    pub line: usize,
    /// What was wrong.
    pub problem: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl std::error::Error for ParseError {}

impl Samples {
    /// Reads a scrape's text.
    pub fn parse(text: &str) -> Result<Samples, ParseError> {
        let mut samples = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let sample = parse_line(line).map_err(|problem| ParseError {
                line: n + 1,
                problem,
            })?;
            samples.push(sample);
        }
        Ok(Samples(samples))
    }

    /// The samples named `name` whose labels include every pair of
    /// `labels` (other labels may differ).
    pub fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.0.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The sum of the samples [`matching`](Self::matching) `name` and
    /// `labels`: 0 when there are none (a counter not yet created).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// The value of the one sample named `name` with exactly `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.matching(name, labels)
            .find(|s| s.labels.len() == labels.len())
            .map(|s| s.value)
    }
}

/// `name{labels} value [timestamp]`.
fn parse_line(line: &str) -> Result<Sample, &'static str> {
    let name_end = line.find(['{', ' ']).ok_or("no value after the name")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err("not a metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = parse_labels(inner, &mut labels)?;
    }
    let mut fields = rest.split_ascii_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = match value {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number.parse().map_err(|_| "the value is not a number")?,
    };
    // An optional timestamp; nothing after it.
    fields.next();
    if fields.next().is_some() {
        return Err("more after the value and timestamp");
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The labels after `{`, into `labels`; returns what follows the `}`.
fn parse_labels<'a>(
    mut text: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, &'static str> {
    loop {
        text = text.trim_start_matches([' ', ',']);
        if let Some(rest) = text.strip_prefix('}') {
            return Ok(rest);
        }
        let (key, rest) = text.split_once("=\"").ok_or("a label without =\"")?;
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("not a label name");
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("a label value without its closing quote"),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => return Err("an unknown escape in a label value"),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.insert(key.to_string(), value);
        text = &rest[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels_are_read() {
        let text = "# HELP convene_live_nodes Nodes\n# TYPE convene_live_nodes gauge\n\
                    convene_live_nodes 3\n\
                    convene_requests_total{service=\"web\",door=\"http\",kind=\"/api/events/{id}\",outcome=\"2xx\"} 7\n\
                    convene_request_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 9 1700000000\n\
                    # EOF\n";
        let samples = Samples::parse(text).unwrap();
        assert_eq!(samples.0.len(), 3);
        assert_eq!(samples.get("convene_live_nodes", &[]), Some(3.0));
        assert_eq!(
            samples.get(
                "convene_requests_total",
                &[
                    ("service", "web"),
                    ("door", "http"),
                    ("kind", "/api/events/{id}"),
                    ("outcome", "2xx")
                ]
            ),
            Some(7.0)
        );
        assert_eq!(
            samples.sum("convene_request_duration_seconds_bucket", &[("le", "+Inf")]),
            9.0
        );
    }

    #[test]
    fn a_partial_label_set_sums_and_an_absent_series_is_zero() {
        let text =
            "x_total{a=\"1\",b=\"p\"} 2\nx_total{a=\"1\",b=\"q\"} 3\nx_total{a=\"2\",b=\"p\"} 5\n";
        let samples = Samples::parse(text).unwrap();
        assert_eq!(samples.sum("x_total", &[("a", "1")]), 5.0);
        assert_eq!(samples.sum("x_total", &[]), 10.0);
        assert_eq!(samples.sum("x_total", &[("a", "3")]), 0.0);
        assert_eq!(samples.get("x_total", &[("a", "1")]), None, "not exact");
    }

    #[test]
    fn escaped_label_values_are_unescaped() {
        let samples = Samples::parse("m{v=\"a\\\"b\\\\c\\nd,}\"} 1\n").unwrap();
        assert_eq!(samples.0[0].labels["v"], "a\"b\\c\nd,}");
    }

    #[test]
    fn special_values_are_read() {
        let samples = Samples::parse("a +Inf\nb -Inf\nc NaN\nd 1.5e-3\n").unwrap();
        assert_eq!(samples.get("a", &[]), Some(f64::INFINITY));
        assert_eq!(samples.get("b", &[]), Some(f64::NEG_INFINITY));
        assert!(samples.get("c", &[]).unwrap().is_nan());
        assert_eq!(samples.get("d", &[]), Some(0.0015));
    }

    #[test]
    fn what_cannot_be_read_is_refused_naming_the_line() {
        for (text, line) in [
            ("ok 1\nbad\n", 2),
            ("m{a=\"1\" 2\n", 1),
            ("m{a=1} 2\n", 1),
            ("m{a=\"\\x\"} 2\n", 1),
            ("m one\n", 1),
            ("m 1 2 3\n", 1),
            ("m-x 1\n", 1),
        ] {
            let error = Samples::parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text:?}: {error}");
        }
    }

    #[test]
    fn what_the_registry_writes_reads_back() {
        let metrics = crate::Metrics::new();
        metrics.begin("web", "http", "/x", None).finish("2xx");
        metrics.count("peer", "dropped_bad_mac", 4);
        let samples = Samples::parse(&metrics.encode()).unwrap();
        assert_eq!(
            samples.sum("convene_requests_total", &[("kind", "/x")]),
            1.0
        );
        assert_eq!(
            samples.sum(
                "convene_events_total",
                &[("service", "peer"), ("event", "dropped_bad_mac")]
            ),
            4.0
        );
        assert_eq!(
            samples.sum(
                "convene_request_duration_seconds_count",
                &[("service", "web")]
            ),
            1.0
        );
    }
}
