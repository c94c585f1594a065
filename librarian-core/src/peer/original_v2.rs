//! Calling a site that still runs the original (Python) Librarian (a peer whose
//! protocol is `original-v2`): the calls of our sending side in its `/api/v2` form.
//! `stage` becomes its `clone/batch_stage` (checksums in its spelling; a batch it
//! refuses is mapped back to per-file answers), `ping` its `ping/logged`, `has` its
//! `search/file`, and reconciliation asks `checkin/status`.

use super::client::{PeerClient, PingAnswer};
use crate::checksum::{Algorithm, Checksum};
use crate::error::{Error, Result};
use crate::model::{Direction, ManagerKind, StageRequest, StageResponse, StageResult, TransferStatus};
use crate::text::{MAX_REASON_CHARS, clean_free_text};

/// A checksum in the original's spelling (`xxh3:::<hex>`, `md5:::<hex>`); `None` for
/// an algorithm it cannot verify.
fn original_spelling(text: &str) -> Option<String> {
    let c = Checksum::parse(text).ok()?;
    match c.algorithm() {
        Algorithm::Xxh3 => Some(format!("xxh3:::{}", c.hex())),
        Algorithm::Md5 => Some(format!("md5:::{}", c.hex())),
        _ => None,
    }
}

impl PeerClient {
    /// POST `body` to `path`: the status and the JSON answer, whatever the status.
    fn post_v2(&self, path: &str, body: &serde_json::Value) -> Result<(u16, serde_json::Value)> {
        let url = format!("{}{path}", self.peer.url);
        let mut resp = self
            .agent
            .post(&url)
            .config()
            .http_status_as_error(false)
            .build()
            .header("Authorization", &self.authorization)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| self.unreachable(e))?;
        Ok((status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
    }

    /// POST, and the JSON of a 2xx answer (a refusal otherwise, with its reason).
    pub(super) fn post_v2_ok(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        let (status, j) = self.post_v2(path, body)?;
        if (200..300).contains(&status) {
            return Ok(j);
        }
        let reason = j["reason"]
            .as_str()
            .or_else(|| j["detail"].as_str())
            .map_or_else(|| format!("HTTP {status} from {path}"), |r| clean_free_text(r, MAX_REASON_CHARS));
        Err(Error::PeerRefused { peer: self.peer.name.clone(), status, code: "original".into(), message: reason })
    }

    pub(super) fn ping_v2(&self) -> Result<PingAnswer> {
        let j = self.post_v2_ok("/api/v2/ping/logged", &serde_json::json!({}))?;
        Ok(PingAnswer {
            site: self.peer.name.clone(),
            version: format!("original Librarian ({})", clean_free_text(j["name"].as_str().unwrap_or(""), 80)),
            features: Vec::new(),
        })
    }

    pub(super) fn has_v2(&self, name: &str, checksum: &str) -> Result<bool> {
        let (status, j) =
            self.post_v2("/api/v2/search/file", &serde_json::json!({ "name": name, "max_results": 1 }))?;
        if status == 404 {
            return Ok(false);
        }
        if !(200..300).contains(&status) {
            return Err(Error::PeerRefused {
                peer: self.peer.name.clone(),
                status,
                code: "original".into(),
                message: format!("search/file answered {status}"),
            });
        }
        let want = Checksum::parse(checksum)?;
        Ok(j.as_array().is_some_and(|files| {
            files.iter().any(|f| {
                f["name"].as_str() == Some(name)
                    && f["checksum"].as_str().and_then(|c| Checksum::parse(c).ok()).is_some_and(|c| c == want)
            })
        }))
    }

    /// The status of the peer's transfer `id` (its incoming transfer when ours is
    /// outgoing, and the reverse), `None` when it has none or will not say.
    pub fn original_status(&self, id: i64, ours: Direction) -> Result<Option<TransferStatus>> {
        let (src, dst): (Vec<i64>, Vec<i64>) = match ours {
            Direction::Outgoing => (vec![], vec![id]),
            Direction::Incoming => (vec![id], vec![]),
        };
        let j = self.post_v2_ok(
            "/api/v2/checkin/status",
            &serde_json::json!({ "source_transfer_ids": src, "destination_transfer_ids": dst }),
        )?;
        let field = match ours {
            Direction::Outgoing => "destination_transfer_status",
            Direction::Incoming => "source_transfer_status",
        };
        Ok(j[field][id.to_string()].as_str().and_then(crate::model::map_status))
    }

    pub(super) fn stage_v2(&self, req: &StageRequest) -> Result<StageResponse> {
        let refused = |transfer_id: i64, code: &str, message: String| StageResult::Refused {
            transfer_id,
            code: code.into(),
            message: clean_free_text(&message, MAX_REASON_CHARS),
        };
        let mut answers: Vec<Option<StageResult>> = vec![None; req.items.len()];
        let mut uploads = Vec::new();
        let mut total: u64 = 0;
        for (i, item) in req.items.iter().enumerate() {
            match original_spelling(&item.checksum) {
                Some(sum) => {
                    total = total.saturating_add(item.size);
                    uploads.push(serde_json::json!({
                        "upload_size": item.size, "upload_checksum": sum, "upload_name": item.name,
                        "destination_location": item.name, "uploader": item.uploader,
                        "source_transfer_id": item.transfer_id,
                    }));
                }
                None => {
                    answers[i] = Some(refused(
                        item.transfer_id,
                        "unsupported_checksum",
                        format!(
                            "{} runs the original Librarian, which verifies only xxh3 and md5 checksums, not {}",
                            self.peer.name, item.checksum
                        ),
                    ))
                }
            }
        }
        if !uploads.is_empty() {
            let body = serde_json::json!({ "uploads": uploads, "source": self.local_site, "total_size": total });
            let (status, j) = self.post_v2("/api/v2/clone/batch_stage", &body)?;
            // We copy with our own manager into its staging area: local when we can.
            let manager =
                if req.managers.iter().any(|m| m == "local") { ManagerKind::Local } else { ManagerKind::Rsync };
            let listed: Vec<i64> = j["source_transfer_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_i64()).collect())
                .unwrap_or_default();
            let reason = j["reason"].as_str().unwrap_or("").to_owned();
            for (i, item) in req.items.iter().enumerate() {
                if answers[i].is_some() {
                    continue;
                }
                let id = item.transfer_id;
                answers[i] = Some(match status {
                    200..=299 => {
                        let up = j["uploads"]
                            .as_array()
                            .and_then(|a| a.iter().find(|u| u["source_transfer_id"].as_i64() == Some(id)));
                        match up.and_then(|u| {
                            Some((u["destination_transfer_id"].as_i64()?, u["staging_location"].as_str()?))
                        }) {
                            Some((remote, dest)) => StageResult::Accepted {
                                transfer_id: id,
                                remote_id: remote,
                                destination: dest.to_owned(),
                                manager,
                            },
                            None => refused(id, "failed", "the original did not stage it".into()),
                        }
                    }
                    409 if listed.contains(&id) => {
                        if self.has_v2(&item.name, &item.checksum)? {
                            StageResult::AlreadyPresent { transfer_id: id, store: "original-store".into() }
                        } else {
                            refused(
                                id,
                                "conflict",
                                format!("{} holds {} with another checksum", self.peer.name, item.name),
                            )
                        }
                    }
                    // The rest of a refused batch: offered again next round.
                    409 | 406 | 425 => refused(id, "too_many_outstanding", format!("the batch was refused: {reason}")),
                    413 => refused(id, "store_full", reason.clone()),
                    400 if listed.contains(&id) => refused(id, "invalid_argument", reason.clone()),
                    400 => refused(id, "too_many_outstanding", format!("the batch was refused: {reason}")),
                    _ => {
                        return Err(Error::PeerRefused {
                            peer: self.peer.name.clone(),
                            status,
                            code: "original".into(),
                            message: clean_free_text(&format!("clone/batch_stage: {reason}"), MAX_REASON_CHARS),
                        });
                    }
                });
            }
        }
        Ok(StageResponse { items: answers.into_iter().flatten().collect() })
    }
}
