//! Registering and logging in, shared by the pages and the JSON API so
//! that both apply the same rules and say the same things.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::http::StatusCode;
use convene_events::db::{DbError, User};
use convene_events::zone::{Zone, zone_names};

use crate::error::{ApiError, db_message};
use crate::password::{BUSY_RETRY_AFTER, HashError, password_problem, username_problem};
use crate::session;
use crate::state::App;
use crate::throttle::TooMany;

/// The one message for a failed login, whether the name or the password
/// was wrong: telling them apart would tell strangers which names exist.
pub const WRONG_LOGIN: &str = "wrong user name or password";

/// Why registering or logging in failed.
#[derive(Debug, PartialEq, Eq)]
pub enum AccountError {
    /// A field breaks a rule (400).
    Invalid(String),
    /// The user name is taken (409).
    Taken(String),
    /// Unknown user or wrong password (401).
    WrongLogin,
    /// Too many attempts from this address or for this account (429).
    TooMany(TooMany),
    /// Every core is checking other passwords and the queue is full (503).
    Busy,
    /// Our side failed (503).
    Unavailable(String),
}

impl AccountError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AccountError::Invalid(_) => StatusCode::BAD_REQUEST,
            AccountError::Taken(_) => StatusCode::CONFLICT,
            AccountError::WrongLogin => StatusCode::UNAUTHORIZED,
            AccountError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            AccountError::Busy | AccountError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Seconds to wait before trying again (`Retry-After`), where one helps.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            AccountError::TooMany(too_many) => Some(too_many.retry_after),
            AccountError::Busy => Some(BUSY_RETRY_AFTER),
            _ => None,
        }
    }

    /// What the user reads.
    pub fn message(&self) -> String {
        match self {
            AccountError::Invalid(message) | AccountError::Unavailable(message) => message.clone(),
            AccountError::Taken(name) => format!("the user name {name:?} is taken"),
            AccountError::WrongLogin => WRONG_LOGIN.into(),
            AccountError::TooMany(too_many) => too_many.message.clone(),
            AccountError::Busy => HashError::Busy.to_string(),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(error: AccountError) -> Self {
        ApiError::new(error.status(), error.message()).retry_after(error.retry_after())
    }
}

impl From<HashError> for AccountError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => AccountError::Busy,
            HashError::Failed => AccountError::Unavailable(error.to_string()),
        }
    }
}

impl From<DbError> for AccountError {
    fn from(error: DbError) -> Self {
        AccountError::Unavailable(db_message(&error))
    }
}

/// Every zone name, sorted: the register form's suggestions.
pub fn zones() -> &'static [String] {
    static ZONES: OnceLock<Vec<String>> = OnceLock::new();
    ZONES.get_or_init(zone_names)
}

/// The zone's name as the database spells it (`europe/rome` becomes
/// `Europe/Rome`); blank means UTC.
pub fn canonical_zone(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok("UTC".into());
    }
    Zone::named(text)
        .map(|zone| zone.name().to_string())
        .map_err(|error| error.to_string())
}

/// Creates an account for a client at `from`; returns the zone it was
/// given. Every attempt counts against the address's registrations, those
/// refused included (a refusal for a taken name is also an answer to "does
/// this name exist?").
pub async fn register(
    app: &App,
    from: IpAddr,
    username: &str,
    password: &str,
    time_zone: &str,
) -> Result<String, AccountError> {
    app.throttle
        .register(from, Instant::now())
        .map_err(AccountError::TooMany)?;
    if let Some(problem) = username_problem(username) {
        return Err(AccountError::Invalid(problem));
    }
    if let Some(problem) = password_problem(password) {
        return Err(AccountError::Invalid(problem));
    }
    let time_zone = canonical_zone(time_zone).map_err(AccountError::Invalid)?;
    // Checked before hashing so a taken name costs no argon2 work (the
    // insert below still catches a race between two registrations).
    if app.db().user(username).await?.is_some() {
        return Err(AccountError::Taken(username.into()));
    }
    let password_hash = app.passwords.hash(password.to_string()).await?;
    let user = User {
        name: username.to_string(),
        password_hash,
        time_zone: time_zone.clone(),
    };
    match app.db().create_user(&user).await {
        Ok(()) => Ok(time_zone),
        Err(DbError::Duplicate) => Err(AccountError::Taken(username.into())),
        Err(error) => Err(error.into()),
    }
}

/// Checks a name and password from a client at `from`; returns a new
/// session's token. Refused before any hashing when the address or the
/// account has tried too often ([`crate::throttle`]), right password or
/// not.
pub async fn login(
    app: &App,
    from: IpAddr,
    username: &str,
    password: &str,
) -> Result<String, AccountError> {
    app.throttle
        .login(from, username, Instant::now())
        .map_err(AccountError::TooMany)?;
    // A name that breaks the rules cannot exist; it is still "wrong user
    // name or password", and still costs a hash, like any unknown name.
    let stored = if username_problem(username).is_none() {
        app.db().user(username).await?
    } else {
        None
    };
    let hash = stored.map(|user| user.password_hash);
    if !app.passwords.verify(password.to_string(), hash).await? {
        return Err(AccountError::WrongLogin);
    }
    Ok(session::begin(app.db(), username).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_spelled_as_the_database_does() {
        assert_eq!(canonical_zone("europe/rome").unwrap(), "Europe/Rome");
        assert_eq!(canonical_zone("  Asia/Tokyo ").unwrap(), "Asia/Tokyo");
        assert_eq!(canonical_zone("").unwrap(), "UTC");
        let error = canonical_zone("Mars/Olympus").unwrap_err();
        assert!(
            error.contains("unknown time zone \"Mars/Olympus\""),
            "{error}"
        );
    }

    #[test]
    fn account_errors_have_statuses_and_messages() {
        assert_eq!(AccountError::WrongLogin.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(AccountError::WrongLogin.message(), WRONG_LOGIN);
        assert_eq!(
            AccountError::Taken("bob".into()).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            AccountError::Taken("bob".into()).message(),
            "the user name \"bob\" is taken"
        );
    }
}
