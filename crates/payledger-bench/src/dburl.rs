//! Pointing a connection string at another database.

/// `url` with its database name replaced by `dbname`. Accepts both forms libpq and
/// tokio-postgres accept: a `postgres://` / `postgresql://` URL, or `key=value` pairs (where
/// a later `dbname=` wins, in libpq and in tokio-postgres alike).
pub(crate) fn with_dbname(url: &str, dbname: &str) -> String {
    let trimmed = url.trim();
    let Some(scheme_end) =
        ["postgres://", "postgresql://"].iter().find(|scheme| trimmed.starts_with(**scheme)).map(|scheme| scheme.len())
    else {
        return format!("{trimmed} dbname={dbname}");
    };
    let (base, query) = match trimmed.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (trimmed, None),
    };
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{dbname}?{query}"),
        None => format!("{base}/{dbname}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(with_dbname("postgres://u@h:1/postgres", "x"), "postgres://u@h:1/x");
        assert_eq!(with_dbname("postgresql://u:p@h/db?sslmode=disable", "x"), "postgresql://u:p@h/x?sslmode=disable");
        assert_eq!(with_dbname("postgres://u@h:1", "x"), "postgres://u@h:1/x");
        assert_eq!(with_dbname("postgres://u@h:1?application_name=a", "x"), "postgres://u@h:1/x?application_name=a");
    }

    #[test]
    fn appends_dbname_to_key_value_strings() {
        assert_eq!(with_dbname("host=h user=u dbname=postgres", "x"), "host=h user=u dbname=postgres dbname=x");
        let config: tokio_postgres::Config = with_dbname("host=h user=u dbname=postgres", "x").parse().unwrap();
        assert_eq!(config.get_dbname(), Some("x"));
    }
}
