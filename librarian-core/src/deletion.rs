//! Deletion that never loses the last good copy: rolling deletion of old copies on
//! a store (`[deletion.STORE]`, the `rolling-deletion` task) and `librarian drop`
//! for one copy by hand.
//!
//! A copy goes only when at least `min_copies` remote copies have been re-verified
//! intact by their peers within `verified_within` (older ones are asked again right
//! before), and when at least one other good copy exists somewhere, whatever
//! `min_copies` says (so 0 never means "the last one"). The count is taken again in
//! the transaction that marks the copy deleted; the bytes are removed after that
//! commit, and the instance row stays (`deleted`, with the reason).

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};

use crate::catalog::{DeletionCandidate, before};
use crate::config::DeletionConfig;
use crate::error::{Error, ObjectKind, Result};
use crate::model::{DeletionAction, DeletionItem, DeletionReport, InstanceState, RemoteState};
use crate::name::FileName;
use crate::site::Site;

/// Remote copies required when neither the store's `[deletion]` table nor the
/// caller says.
const DEFAULT_MIN_COPIES: u32 = 1;
/// How recent a peer's re-verification must be when no `[deletion]` table says.
const DEFAULT_VERIFIED_WITHIN: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The rule one deletion applies.
#[derive(Debug, Clone, Copy)]
struct Rule {
    min_copies: u32,
    verified_within: SignedDuration,
}

/// One run of rolling deletion on `store` (its `[deletion.STORE]` table), or the plan
/// of one (`dry_run`).
pub(crate) fn rolling_deletion(site: &Site, store: &str, dry_run: bool) -> Result<DeletionReport> {
    let cfg: &DeletionConfig = site.config().deletion.get(store).ok_or_else(|| {
        Error::invalid(
            "store",
            format!("store {store} has no [deletion.{store}] table in the configuration: nothing is deleted there"),
        )
    })?;
    let row = site.catalog().store(store)?;
    let rule = Rule { min_copies: cfg.min_copies, verified_within: cfg.verified_within() };
    let now = Timestamp::now();
    let candidates = site.catalog().deletion_candidates(
        row.id,
        before(now, cfg.after()),
        before(now, rule.verified_within),
        usize::MAX,
    )?;
    apply(site, store, candidates, rule, dry_run)
}

/// Drop the copy of `name` on `store` by hand: the same checks as rolling deletion
/// (`min_copies` from the argument, else the store's `[deletion]` table, else 1),
/// whatever the copy's age and deletion policy.
pub(crate) fn drop_copy(
    site: &Site,
    name: &FileName,
    store: &str,
    min_copies: Option<u32>,
    dry_run: bool,
) -> Result<DeletionReport> {
    let cat = site.catalog();
    let file = cat.require_file(name)?;
    let row = cat.store(store)?;
    if !dry_run {
        finish_pending(site, &row)?;
    }
    let instances = cat.instances(file.id)?;
    let Some(instance) = instances.iter().find(|i| i.store_id == row.id).cloned() else {
        return Err(Error::NotFound { kind: ObjectKind::Instance, name: format!("{name} on store {store}") });
    };
    if instance.state != InstanceState::Ok {
        return Err(Error::invalid(
            "store",
            format!(
                "the copy of {name} on store {store} is {} already{}; there is nothing to drop",
                instance.state,
                instance.state_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        ));
    }
    let cfg = site.config().deletion.get(store);
    let rule = Rule {
        min_copies: min_copies.or(cfg.map(|c| c.min_copies)).unwrap_or(DEFAULT_MIN_COPIES),
        verified_within: cfg.map_or(DEFAULT_VERIFIED_WITHIN, DeletionConfig::verified_within),
    };
    let cut_off = before(Timestamp::now(), rule.verified_within);
    let remote = cat.remote_instances(file.id)?;
    let candidate = DeletionCandidate {
        fresh_remote: peers(remote.iter().filter(|r| fresh(r, cut_off))),
        remote: peers(remote.iter().filter(|r| r.state == RemoteState::Ok)),
        local_other: count(instances.iter().filter(|i| i.id != instance.id && i.state == InstanceState::Ok)),
        file: file.id,
        name: file.name,
        size: file.size,
        instance: instance.id,
        path: instance.path,
    };
    apply(site, store, vec![candidate], rule, dry_run)
}

/// The distinct peers among `copies`: one site holding a file on two stores is one
/// copy elsewhere, not two (a peer cannot vouch for `min_copies = 2` alone).
fn peers<'a>(copies: impl Iterator<Item = &'a crate::catalog::RemoteInstanceRow>) -> u32 {
    count(copies.map(|r| r.librarian.as_str()).collect::<BTreeSet<_>>().into_iter())
}

fn count<T>(it: impl Iterator<Item = T>) -> u32 {
    u32::try_from(it.count()).unwrap_or(u32::MAX)
}

fn fresh(r: &crate::catalog::RemoteInstanceRow, cut_off: Timestamp) -> bool {
    r.state == RemoteState::Ok && r.verified_at.is_some_and(|v| v >= cut_off)
}

/// Whether the counts allow deleting: enough fresh remote copies, and one good copy
/// elsewhere at least.
fn safe(rule: Rule, fresh_remote: u32, local_other: u32) -> bool {
    fresh_remote >= rule.min_copies && fresh_remote + local_other >= 1
}

/// Decide for each candidate, asking peers to re-verify where that could make it
/// safe, and (unless `dry_run`) delete the copies that are.
fn apply(
    site: &Site,
    store: &str,
    mut candidates: Vec<DeletionCandidate>,
    rule: Rule,
    dry_run: bool,
) -> Result<DeletionReport> {
    let cat = site.catalog();
    let cut_off = before(Timestamp::now(), rule.verified_within);
    let row = cat.store(store)?;
    let problems = if dry_run { Vec::new() } else { finish_pending(site, &row)? };
    let mut report = DeletionReport {
        store: store.to_owned(),
        dry_run,
        min_copies: rule.min_copies,
        items: Vec::with_capacity(candidates.len()),
        deleted: 0,
        bytes_freed: 0,
        peers_asked: Vec::new(),
        problems,
    };
    // Short of fresh copies but holding stale ones: ask those peers first.
    let mut to_ask: BTreeMap<String, BTreeSet<FileName>> = BTreeMap::new();
    let mut could_verify = BTreeSet::new();
    for c in &candidates {
        if safe(rule, c.fresh_remote, c.local_other) || c.remote <= c.fresh_remote {
            continue;
        }
        if safe(rule, c.remote, c.local_other) {
            could_verify.insert(c.instance);
        }
        for r in cat.remote_instances(c.file)? {
            if r.state == RemoteState::Ok && !fresh(&r, cut_off) {
                to_ask.entry(r.librarian).or_default().insert(c.name.clone());
            }
        }
    }
    if !dry_run && !to_ask.is_empty() {
        for (peer, names) in &to_ask {
            let names: Vec<FileName> = names.iter().cloned().collect();
            match crate::remote_verify::verify_remote(site, peer, &names) {
                Ok(_) => report.peers_asked.push(peer.clone()),
                Err(e) => report.problems.push(format!("peer {peer} could not re-verify its copies: {e}")),
            }
        }
        // Count again what the answers changed.
        for c in candidates.iter_mut().filter(|c| could_verify.contains(&c.instance)) {
            let remote = cat.remote_instances(c.file)?;
            c.fresh_remote = peers(remote.iter().filter(|r| fresh(r, cut_off)));
        }
    } else if dry_run {
        report.peers_asked = to_ask.keys().cloned().collect();
    }
    let now = Timestamp::now();
    let root = row.root.clone();
    // Many copies share a reason: each text is made once.
    let mut reasons: BTreeMap<(u32, u32), String> = BTreeMap::new();
    let within = crate::model::format_interval(rule.verified_within);
    for c in candidates {
        let mut item = DeletionItem {
            name: c.name,
            store: store.to_owned(),
            instance: c.instance,
            size: c.size,
            action: DeletionAction::Keep,
            done: false,
            reason: String::new(),
            verified_copies: c.fresh_remote,
            local_copies: c.local_other,
        };
        if !safe(rule, c.fresh_remote, c.local_other) {
            item.action = if dry_run && could_verify.contains(&c.instance) {
                DeletionAction::Verify
            } else {
                DeletionAction::Keep
            };
            item.reason = shortfall(rule, c.fresh_remote, c.remote);
            report.items.push(item);
            continue;
        }
        item.action = DeletionAction::Delete;
        item.reason = reasons
            .entry((c.fresh_remote, c.local_other))
            .or_insert_with(|| {
                format!(
                    "{} remote cop{} re-verified within {within}{}",
                    c.fresh_remote,
                    if c.fresh_remote == 1 { "y" } else { "ies" },
                    if c.local_other > 0 { format!(", {} other cop(ies) here", c.local_other) } else { String::new() }
                )
            })
            .clone();
        if !dry_run {
            let why = format!("deleted: {}", item.reason);
            let (fresh_now, local_now, marked) =
                cat.delete_instance_if_safe(c.instance, rule.min_copies, cut_off, &why, now)?;
            (item.verified_copies, item.local_copies) = (fresh_now, local_now);
            if !marked {
                item.action = DeletionAction::Keep;
                item.reason = "the other copies changed while deleting; kept".into();
                report.items.push(item);
                continue;
            }
            item.done = true;
            report.deleted += 1;
            report.bytes_freed += c.size;
            crate::fault::point("deletion.after-commit");
            if let Err(e) = finish_deletion(site, c.instance, &c.path, &root, &why) {
                report.problems.push(format!(
                    "{} is deleted from the catalog but its bytes could not be removed (the next run tries again): {e}",
                    item.name
                ));
            }
        }
        report.items.push(item);
    }
    Ok(report)
}

/// Finish the deletions on store `row` that a run killed between its commit and the
/// removal of the bytes left `deleting`; what could not be removed, described.
fn finish_pending(site: &Site, row: &crate::catalog::StoreRow) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for (id, path, why) in site.catalog().deleting_instances(row.id)? {
        if let Err(e) = finish_deletion(site, id, &path, &row.root, &why) {
            problems.push(format!("{} could not be removed (the next run tries again): {e}", path.display()));
        }
    }
    Ok(problems)
}

/// Remove the bytes of a copy marked `deleting`, then mark it `deleted`.
fn finish_deletion(
    site: &Site,
    id: crate::model::InstanceId,
    path: &std::path::Path,
    root: &std::path::Path,
    why: &str,
) -> Result<()> {
    crate::store::remove_copy(path, root)?;
    site.catalog().set_instance_state(id, InstanceState::Deleted, Some(why), Timestamp::now())
}

/// Why a copy is kept.
fn shortfall(rule: Rule, fresh_remote: u32, remote: u32) -> String {
    let within = crate::model::format_interval(rule.verified_within);
    if fresh_remote < rule.min_copies {
        format!(
            "{} of the {} remote cop{} required re-verified within {within} ({} known in all)",
            fresh_remote,
            rule.min_copies,
            if rule.min_copies == 1 { "y" } else { "ies" },
            remote
        )
    } else {
        "it is the last good copy: no other copy here and none re-verified elsewhere".to_owned()
    }
}
