"""The official Globus SDK (globus-sdk 4.10.0) drives fake-globus.

Run by tests/sdk.rs, which starts the fake and passes, in the environment:
GLOBUS_SDK_SERVICE_URL_AUTH and GLOBUS_SDK_SERVICE_URL_TRANSFER (the fake's base URL
with a trailing "/", as the SDK's own production URLs have), FAKE_URL, FAKE_SRC_DIR,
FAKE_DST_DIR, SRC_COLLECTION, DST_COLLECTION, CLIENT_ID, CLIENT_SECRET,
NATIVE_CLIENT_ID and REFRESH_TOKEN. Any mismatch fails an assert (non-zero exit).
"""

import json
import os
import pathlib
import time
import urllib.request

import globus_sdk

TRANSFER_SCOPE = "urn:globus:auth:scope:transfer.api.globus.org:all"
ENV = os.environ
FAKE_URL = ENV["FAKE_URL"]
SRC_DIR = pathlib.Path(ENV["FAKE_SRC_DIR"])
DST_DIR = pathlib.Path(ENV["FAKE_DST_DIR"])
SRC = ENV["SRC_COLLECTION"]
DST = ENV["DST_COLLECTION"]


def control(path, body):
    """POST a /_fake/ control call (not Globus API)."""
    request = urllib.request.Request(
        f"{FAKE_URL}/_fake/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200, response.status


def wait(tc, task_id, statuses=("SUCCEEDED", "FAILED"), timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        task = tc.get_task(task_id)
        if task["status"] in statuses:
            return task
        assert time.monotonic() < deadline, f"task stuck: {task.data}"
        time.sleep(0.05)


def files_below(root):
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def main():
    assert globus_sdk.__version__ == "4.10.0", globus_sdk.__version__
    # Never talk to the real services: both base URLs must be the fake's.
    for service in ("AUTH", "TRANSFER"):
        url = ENV.get(f"GLOBUS_SDK_SERVICE_URL_{service}", "")
        assert url.rstrip("/") == FAKE_URL, f"GLOBUS_SDK_SERVICE_URL_{service}={url!r}"

    # Auth: a bad secret is the SDK's AuthAPIError; a good one gives a token.
    bad = globus_sdk.ConfidentialAppAuthClient(ENV["CLIENT_ID"], "not-the-secret")
    try:
        bad.oauth2_client_credentials_tokens(TRANSFER_SCOPE)
        raise AssertionError("a bad secret got a token")
    except globus_sdk.AuthAPIError as e:
        assert e.http_status == 401, e.http_status
        assert e.raw_json == {"error": "invalid_client"}, e.raw_json

    auth = globus_sdk.ConfidentialAppAuthClient(ENV["CLIENT_ID"], ENV["CLIENT_SECRET"])
    tokens = auth.oauth2_client_credentials_tokens(TRANSFER_SCOPE)
    info = tokens.by_resource_server["transfer.api.globus.org"]
    assert info["scope"] == TRANSFER_SCOPE, info
    assert info["token_type"] == "Bearer", info
    assert info["expires_at_seconds"] > time.time() + 3600, info
    tc = globus_sdk.TransferClient(
        authorizer=globus_sdk.AccessTokenAuthorizer(info["access_token"])
    )

    # A native app's refresh token, with client_id in the body and no secret.
    native = globus_sdk.NativeAppAuthClient(ENV["NATIVE_CLIENT_ID"])
    refreshed = native.oauth2_refresh_token(ENV["REFRESH_TOKEN"])
    native_token = refreshed.by_resource_server["transfer.api.globus.org"]["access_token"]
    assert native_token and native_token != info["access_token"]

    # Files and a directory whose names have spaces and unicode.
    (SRC_DIR / "store" / "obs 123" / "sous-répertoire").mkdir(parents=True)
    (SRC_DIR / "store" / "a file ✓.fits").write_bytes(b"alpha" * 1000)
    (SRC_DIR / "store" / "obs 123" / "raw data.bin").write_bytes(bytes(range(256)) * 100)
    (SRC_DIR / "store" / "obs 123" / "sous-répertoire" / "ñandú.txt").write_text("ñ")

    submission_id = tc.get_submission_id()["value"]
    tdata = globus_sdk.TransferData(
        SRC,
        DST,
        label="batch with obs_123",
        submission_id=submission_id,
        sync_level="exists",
        verify_checksum=True,
        preserve_timestamp=True,
        notify_on_succeeded=False,
        skip_source_errors=False,
        fail_on_quota_errors=True,
    )
    tdata.add_item("/store/a file ✓.fits", "/staging/x/a file ✓.fits", recursive=False)
    tdata.add_item("/store/obs 123/", "/staging/x/obs 123/", recursive=True)
    result = tc.submit_transfer(tdata)
    assert result.http_status == 202, result.http_status
    assert result["code"] == "Accepted", result.data
    assert result["submission_id"] == submission_id, result.data
    task_id = result["task_id"]

    task = wait(tc, task_id)
    assert task["status"] == "SUCCEEDED", task.data
    assert task["files"] == 3 and task["files_transferred"] == 3, task.data
    assert task["bytes_transferred"] == 5000 + 25600 + len("ñ".encode()), task.data
    assert task["sync_level"] == 0 and task["verify_checksum"] is True, task.data
    assert task["label"] == "batch with obs_123", task.data
    assert task["source_endpoint_id"] == SRC, task.data
    assert task["completion_time"] is not None, task.data
    dst = DST_DIR / "staging" / "x"
    assert (dst / "a file ✓.fits").read_bytes() == b"alpha" * 1000
    assert files_below(dst / "obs 123") == files_below(SRC_DIR / "store" / "obs 123")

    # The same submission id again: Duplicate with the same task.
    again = tc.submit_transfer(tdata)
    assert again.http_status == 200, again.http_status
    assert again["code"] == "Duplicate", again.data
    assert again["task_id"] == task_id, again.data

    # A refusal is the SDK's TransferAPIError with the fixture's code.
    empty = globus_sdk.TransferData(SRC, DST)
    try:
        tc.submit_transfer(empty)
        raise AssertionError("an empty transfer was accepted")
    except globus_sdk.TransferAPIError as e:
        assert e.http_status == 400, e.http_status
        assert e.code == "ClientError.BadRequest.NoTransferItems", e.code
        assert e.message == "A transfer requires at least one item", e.message

    # A slow task, canceled.
    control("scenario", {"mode": "slow", "seconds": 30})
    slow = globus_sdk.TransferData(SRC, DST, label="slow one")
    slow.add_item("/store/obs 123/", "/staging/slow/", recursive=True)
    slow_id = tc.submit_transfer(slow)["task_id"]
    assert tc.get_task(slow_id)["status"] == "ACTIVE"
    canceled = tc.cancel_task(slow_id)
    assert canceled["code"] == "Canceled", canceled.data
    after = tc.get_task(slow_id)
    assert after["status"] == "FAILED", after.data
    assert after["fatal_error"]["code"] == "CANCELED", after.data
    control("scenario", {"mode": "ok"})

    # Events (paged by the SDK), newest first; task_list with a filter.
    events = list(tc.task_event_list(task_id))
    assert events and events[0]["code"] == "SUCCEEDED", events
    assert all(e["DATA_TYPE"] == "event" for e in events), events
    pages = list(tc.paginated.task_event_list(task_id).items())
    assert [e["code"] for e in pages] == [e["code"] for e in events], pages
    listed = list(tc.task_list(filter={"task_id": [task_id, slow_id]}))
    assert {t["task_id"] for t in listed} == {task_id, slow_id}, listed
    failed = list(tc.task_list(filter={"status": "FAILED"}))
    assert [t["task_id"] for t in failed] == [slow_id], failed
    everything = list(tc.paginated.task_list().items())
    assert len(everything) == 2, everything

    # A revoked token: the SDK's renewing authorizer grants again on the 401.
    renewing = globus_sdk.TransferClient(
        authorizer=globus_sdk.ClientCredentialsAuthorizer(auth, TRANSFER_SCOPE)
    )
    assert renewing.get_task(task_id)["status"] == "SUCCEEDED"
    control("revoke", {})
    try:
        tc.get_task(task_id)
        raise AssertionError("a revoked token still works")
    except globus_sdk.TransferAPIError as e:
        assert e.http_status == 401 and e.code == "AuthenticationFailed", (e.http_status, e.code)
    assert renewing.get_task(task_id)["status"] == "SUCCEEDED"

    # An unknown task.
    try:
        renewing.get_task("00000000-0000-4000-8000-000000000000")
        raise AssertionError("an unknown task was found")
    except globus_sdk.TransferAPIError as e:
        assert e.http_status == 404 and e.code == "TaskNotFound", (e.http_status, e.code)

    print("sdk_drives_fake: all checks passed")


if __name__ == "__main__":
    main()
