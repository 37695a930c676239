//! A URL as error messages may show it: without what could be a secret.

/// `url` without credentials (`user:pass@`), query string and fragment: what a delivery error names, so a
/// message or log line says where the request went without leaking a token passed in the URL.
/// `https://u:p@host:8443/api/v1/track?token=x#f` → `https://host:8443/api/v1/track`.
pub fn for_messages(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = url.get(..cut).unwrap_or(url);
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::for_messages;

    #[test]
    fn credentials_query_and_fragment_are_left_out() {
        assert_eq!(for_messages("https://u:p@host:8443/api/v1/track?token=x#f"), "https://host:8443/api/v1/track");
        assert_eq!(for_messages("http://127.0.0.1:9/api/v1/track"), "http://127.0.0.1:9/api/v1/track");
        assert_eq!(for_messages("https://key@host"), "https://host");
        assert_eq!(for_messages("https://host/a@b/track"), "https://host/a@b/track", "an @ in the path stays");
        assert_eq!(for_messages("/proxy/track?k=1"), "/proxy/track", "a same-origin proxy path");
        assert_eq!(for_messages(""), "");
    }
}
