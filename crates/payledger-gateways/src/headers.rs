/// Read access to a request's headers, by case-insensitive name.
///
/// Implemented for closures `Fn(&str) -> Option<String>` (wrap your framework's header
/// map; `http::HeaderMap::get` is already case-insensitive) and for lists of
/// `(name, value)` pairs, which compare names ignoring ASCII case.
pub trait HeaderLookup {
    /// The value of the first header called `name`, if any.
    fn header(&self, name: &str) -> Option<String>;
}

impl<F> HeaderLookup for F
where
    F: Fn(&str) -> Option<String>,
{
    fn header(&self, name: &str) -> Option<String> {
        self(name)
    }
}

impl<N: AsRef<str>, V: AsRef<str>> HeaderLookup for [(N, V)] {
    fn header(&self, name: &str) -> Option<String> {
        self.iter().find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name)).map(|(_, v)| v.as_ref().to_owned())
    }
}

impl<N: AsRef<str>, V: AsRef<str>> HeaderLookup for Vec<(N, V)> {
    fn header(&self, name: &str) -> Option<String> {
        self.as_slice().header(name)
    }
}

impl<N: AsRef<str>, V: AsRef<str>, const LEN: usize> HeaderLookup for [(N, V); LEN] {
    fn header(&self, name: &str) -> Option<String> {
        self.as_slice().header(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_match_names_ignoring_case() {
        let headers = [("stripe-signature", "t=1,v1=ab"), ("Other", "x")];
        assert_eq!(headers.header("Stripe-Signature").as_deref(), Some("t=1,v1=ab"));
        assert_eq!(headers.header("missing"), None);
        let lookup = |name: &str| (name == "A").then(|| "1".to_owned());
        let dynamic: &dyn HeaderLookup = &lookup;
        assert_eq!(dynamic.header("A").as_deref(), Some("1"));
    }
}
