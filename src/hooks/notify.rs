//! Slack-compatible notifications: one POST of `{"text": ...}` to an
//! incoming-webhook URL (Slack, Mattermost and Rocket.Chat accept it).

use std::time::Duration;

use super::HookError;
use super::webhook::error_chain;

/// A notification must never hold up the driver for long.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Posts `text` to a Slack-compatible incoming webhook. Any 2xx is success.
pub async fn notify_slack(url: &str, text: &str) -> Result<(), HookError> {
    let url = reqwest::Url::parse(url).map_err(|e| HookError::InvalidUrl {
        // The URL of an incoming webhook is itself the secret: never echo it.
        url: "(the notification webhook URL)".into(),
        why: e.to_string(),
    })?;
    let client = reqwest::Client::builder()
        .timeout(NOTIFY_TIMEOUT)
        .build()
        .map_err(|e| HookError::Client(error_chain(&e)))?;
    let response = client
        .post(url)
        // Slack reads `<!channel>`, `<@user>` and `<url|text>` in a message:
        // text from a reason or a hook must not ping or link anybody.
        .json(&serde_json::json!({ "text": crate::journal::escape::slack(text) }))
        .send()
        .await
        .map_err(|e| HookError::Notify(error_chain(&e.without_url())))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = response.text().await.unwrap_or_default();
        let first = body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        Err(HookError::Notify(format!(
            "HTTP {}: {first}",
            status.as_u16()
        )))
    }
}
