//! Sending one alert to one sink: a webhook (POST, Slack-compatible `{"text": ...}`
//! or the alert's JSON) or a command hook (the alert's JSON on standard input). A
//! sink accepted the alert on a 2xx answer or exit status 0; anything else (no
//! answer, a refusal, a redirect, a timeout, another exit status) is a failure to
//! retry later, described without the webhook's URL (often a secret).

use std::io::Read;
use std::time::Duration;

use crate::config::{AlertSink, SinkTarget, WebhookFormat};
use crate::model::AlertBody;
use crate::peer::ClientTls;
use crate::site::Site;

/// Time a webhook has to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a webhook has for the whole call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Most of a webhook's refusal kept for the message.
const ANSWER_BYTES: u64 = 4096;
/// Most characters of a sink's explanation kept.
const REASON_CHARS: usize = 300;
/// Secrets librarian may be given in its environment; a command hook never sees them.
const HIDDEN_ENV: &[&str] =
    &[crate::config::GLOBUS_SECRET_ENV, crate::config::GLOBUS_REFRESH_ENV, "LIBRARIAN_PASSWORD"];

/// Sends alerts with the site's HTTP client settings (`[client]` trust roots: a
/// webhook at a public service needs the built-in or the system's roots).
pub(crate) struct Sender {
    /// The HTTP agent, or why there is none (e.g. a `[client] ca_bundle` that is gone).
    agent: std::result::Result<ureq::Agent, String>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").field("agent", &self.agent.is_ok()).finish()
    }
}

impl Sender {
    /// A sender for `site`'s sinks.
    pub(crate) fn new(site: &Site) -> Self {
        let agent = ClientTls::load(&site.config().client, site.config_path())
            .map(|tls| crate::peer::http_agent(&tls, CONNECT_TIMEOUT, CALL_TIMEOUT))
            .map_err(|e| e.to_string());
        Sender { agent }
    }

    /// Send `body` to `sink`; why it was not accepted.
    pub(crate) fn send(&self, sink: &AlertSink, body: &AlertBody) -> std::result::Result<(), String> {
        match &sink.target {
            SinkTarget::Webhook { url, format } => self.post(url, *format, body),
            SinkTarget::Command { argv, timeout } => run(argv, body, timeout.unsigned_abs()),
        }
    }

    fn post(&self, url: &str, format: WebhookFormat, body: &AlertBody) -> std::result::Result<(), String> {
        let agent = self.agent.as_ref().map_err(Clone::clone)?;
        let payload = match format {
            WebhookFormat::Slack => serde_json::json!({ "text": body.slack_text() }),
            WebhookFormat::Json => serde_json::to_value(body).map_err(|e| format!("cannot encode the alert: {e}"))?,
        };
        let answer = agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", body.key())
            .send(payload.to_string());
        let mut resp = answer.map_err(|e| hide(url, &format!("no answer: {e}")))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let mut said = Vec::new();
        let _ = resp.body_mut().as_reader().take(ANSWER_BYTES).read_to_end(&mut said);
        let said = crate::text::clean_free_text(String::from_utf8_lossy(&said).trim(), REASON_CHARS);
        let why = if said.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {said}") };
        Err(hide(url, &why))
    }
}

/// `text` without `url` in it.
fn hide(url: &str, text: &str) -> String {
    text.replace(url, "<webhook URL>")
}

/// Run a command hook with the alert's JSON on its standard input.
fn run(argv: &[String], body: &AlertBody, timeout: Duration) -> std::result::Result<(), String> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let input = serde_json::to_vec(body).map_err(|e| format!("cannot encode the alert: {e}"))?;
    let done = crate::process::run_with_input(argv, &input, HIDDEN_ENV, timeout)
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let said = crate::text::clean_free_text(&done.stderr, REASON_CHARS);
    let said = if said.is_empty() { String::new() } else { format!(": {said}") };
    match done.status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("{program} exited with {s}{said}")),
        None => Err(format!("{program} did not finish within {timeout:?} and was killed{said}")),
    }
}
