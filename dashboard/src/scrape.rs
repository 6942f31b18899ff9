//! The scraper: reads every process's `/metrics` page each `--scrape-interval` and records
//! its [`Figures`] (or why it could not) in the [`State`]. One task per URL, so a process
//! that does not answer delays no other. A scrape fails when the request fails, the answer
//! is not `200 OK`, the page is not the text format, or it takes longer than the interval.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::metrics::{self, Figures};
use crate::state::State;

/// The shortest time a scrape is given, whatever the interval.
const MIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Starts one scraping task per URL (`urls[i]` is process `i` of the [`State`]).
///
/// # Errors
/// The HTTP client cannot be built (no TLS backend is needed: `http://` URLs only).
pub fn spawn(state: Arc<State>, urls: Vec<String>, interval: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(interval.max(MIN_TIMEOUT))
        .build()?;
    for (index, url) in urls.into_iter().enumerate() {
        let (state, client) = (state.clone(), client.clone());
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut was_up = None;
            loop {
                ticker.tick().await;
                let result = scrape(&client, &url).await;
                match (&result, was_up) {
                    (Ok(_), Some(false) | None) => info!(%url, "process metrics readable"),
                    (Err(error), Some(true) | None) => warn!(%url, %error, "process unreachable"),
                    _ => {}
                }
                was_up = Some(result.is_ok());
                state.apply_scrape(index, now_ms(), result);
            }
        });
    }
    Ok(())
}

/// Reads one page. The error is a one-line reason, shown on the page.
async fn scrape(client: &reqwest::Client, url: &str) -> Result<Figures, String> {
    let response = client.get(url).send().await.map_err(|e| chain(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let page = response.text().await.map_err(|e| chain(&e))?;
    let samples = metrics::parse(&page).map_err(|e| format!("not a metrics page: {e}"))?;
    Ok(Figures::from_samples(&samples))
}

/// An error and its sources, `: `-separated (reqwest's own message names only the URL).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The wall clock, UTC epoch ms.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
