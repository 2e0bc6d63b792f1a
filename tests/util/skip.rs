//! Tests that need something this machine may lack (a database server, a
//! browser) say they were skipped and why, on standard error, instead of
//! passing in silence; where the thing is required (CI's `.ci/run` sets
//! `CONVENE_REQUIRE_DATABASES=1`, `CONVENE_REQUIRE_BROWSER=1` and
//! `CONVENE_REQUIRE_NETNS=1`), they fail instead.

/// The variable that names each events backend's server, if it needs one.
pub fn database_var(backend: &str) -> Option<&'static str> {
    match backend {
        "sqlite" => None,
        "mysql" => Some("CONVENE_TEST_MYSQL_URL"),
        "postgres" => Some("CONVENE_TEST_POSTGRES_URL"),
        "redis" => Some("CONVENE_TEST_REDIS_URL"),
        other => panic!("unknown backend {other}"),
    }
}

/// The URL of `backend`'s server (`None` for SQLite, which needs none);
/// for a server not configured, skips `test` (see [`skip`]) and says so
/// with `Err`.
pub fn database_url(backend: &str, test: &str) -> Result<Option<String>, ()> {
    let Some(var) = database_var(backend) else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ => {
            let test = format!("{test} on {backend}");
            skip(
                "CONVENE_REQUIRE_DATABASES",
                &test,
                &format!("{var} is not set"),
            );
            Err(())
        }
    }
}

/// Says `test` is skipped because of `why`, or fails it if the variable
/// `require` is `1` (the thing it lacks is required here).
pub fn skip(require: &str, test: &str, why: &str) {
    assert!(
        std::env::var(require).as_deref() != Ok("1"),
        "{test}: {why}, and {require}=1 requires it"
    );
    eprintln!("skipped: {test}: {why}");
}

/// Whether the browser test can run: chromium and chromedriver on `PATH`
/// (else skipped, or failed under `CONVENE_REQUIRE_BROWSER=1`).
pub fn require_browser(test: &str) -> bool {
    let found = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    let missing: Vec<&str> = ["chromium", "chromedriver"]
        .into_iter()
        .filter(|name| !found(name))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("{} not installed", missing.join(" and "));
    skip("CONVENE_REQUIRE_BROWSER", test, &why);
    false
}

/// Whether the partition tests can make network namespaces (root, and
/// the `ip` command; see `convene_netns::available`); else skipped, or
/// failed under `CONVENE_REQUIRE_NETNS=1`.
pub fn require_netns(test: &str) -> bool {
    match convene_netns::available() {
        Ok(()) => true,
        Err(why) => {
            skip("CONVENE_REQUIRE_NETNS", test, &why);
            false
        }
    }
}
