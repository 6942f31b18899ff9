//! Browser and operating-system families from a `User-Agent` header, for beacons that do not
//! say (the collector fills `browser` and `os` only when they are absent).
//!
//! Families, not versions: the names match those of the simulator ([`crate::generator::PLATFORMS`]).
//! Rules are checked in order because user agents name several engines (every Chromium
//! browser says `Chrome/` and `Safari/`; Android says `Linux`).

/// (substring, browser family), first match wins.
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
];

/// (substring, operating-system family), first match wins.
const SYSTEMS: &[(&str, &str)] = &[
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("iPod", "iOS"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// The browser family of `user_agent` (`Chrome`, `Firefox`, `Safari`, `Edge`, `Opera`,
/// `Samsung Internet`), or `None` when unknown.
pub fn browser(user_agent: &str) -> Option<&'static str> {
    first_match(BROWSERS, user_agent)
}

/// The operating-system family of `user_agent` (`Windows`, `Android`, `iOS`, `ChromeOS`,
/// `macOS`, `Linux`), or `None` when unknown.
pub fn os(user_agent: &str) -> Option<&'static str> {
    first_match(SYSTEMS, user_agent)
}

fn first_match(rules: &[(&str, &'static str)], user_agent: &str) -> Option<&'static str> {
    rules
        .iter()
        .find(|(needle, _)| user_agent.contains(needle))
        .map(|(_, family)| *family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_user_agents() {
        let cases = [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge", "Windows"),
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome", "Linux"),
            ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet", "Android"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari", "iOS"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari", "macOS"),
            ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "Linux"),
            ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "ChromeOS"),
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera", "Windows"),
        ];
        for (ua, b, o) in cases {
            assert_eq!((browser(ua), os(ua)), (Some(b), Some(o)), "{ua}");
        }
        assert_eq!((browser("curl/8.5.0"), os("curl/8.5.0")), (None, None));
    }
}
