//! Immutable-storage plans for shipping evidence to WORM object storage.

use crate::error::{EvidenceError, Result};

/// A Markdown plan for `provider` (`s3` or `azure`) with `days` of retention.
pub fn retention_plan(provider: &str, days: u32) -> Result<String> {
    let common = format!(
        "Retention: {days} days. Locally, `cavra evidence prune --older-than {days}d` removes whole \
segments older than that and leaves a signed `tombstone.json` plus a `tombstone` record, so \
`cavra evidence verify` still passes on what remains. Ship segments (closed ones: every \
file but the newest `segment-*.jsonl`), `checkpoints.jsonl` and `tombstone.json` to \
immutable storage before pruning them locally; keep the trust-root file with them.\n"
    );
    let body = match provider {
        "s3" => format!(
            "# Immutable evidence storage: Amazon S3 Object Lock\n\n{common}
## 1. Bucket with Object Lock (must be enabled at creation; versioning is implied)

```sh
aws s3api create-bucket --bucket ORG-cavra-evidence --object-lock-enabled-for-bucket
aws s3api put-object-lock-configuration --bucket ORG-cavra-evidence \\
  --object-lock-configuration '{{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":{{\"DefaultRetention\":{{\"Mode\":\"COMPLIANCE\",\"Days\":{days}}}}}}}'
```

COMPLIANCE mode: nobody, including the root account, can delete or overwrite an object
version before its retain-until date. Use GOVERNANCE mode only for a trial period.

## 2. Upload

```sh
aws s3 cp .cavra/evidence/ s3://ORG-cavra-evidence/$(hostname)/ --recursive \\
  --exclude 'HEAD' --exclude 'index.sqlite*' --exclude '*.tmp'
```

## 3. Legal hold (suspends expiry for an investigation)

```sh
aws s3api put-object-legal-hold --bucket ORG-cavra-evidence --key KEY --legal-hold Status=ON
```

## 4. Deny deletes and unencrypted uploads in the bucket policy; enable SSE-KMS and
CloudTrail data events for the bucket.
"
        ),
        "azure" => format!(
            "# Immutable evidence storage: Azure Blob immutability policies\n\n{common}
## 1. Storage account and container with version-level immutability

```sh
az storage account create -n orgcavraevidence -g RG --sku Standard_ZRS --kind StorageV2
az storage container-rm create --storage-account orgcavraevidence -g RG -n evidence \\
  --enable-vlw true
az storage container immutability-policy create --account-name orgcavraevidence -g RG \\
  -c evidence --period {days} --allow-protected-append-writes-all true
az storage container immutability-policy lock --account-name orgcavraevidence -g RG \\
  -c evidence --if-match ETAG
```

A locked time-based retention policy cannot be shortened or removed; blobs cannot be
deleted or overwritten until it expires. `allow-protected-append-writes-all` lets the
active segment be appended to as an append blob while existing blocks stay immutable.

## 2. Upload

```sh
az storage blob upload-batch --account-name orgcavraevidence -d evidence/$(hostname) \\
  -s .cavra/evidence --pattern 'segment-*' --pattern 'checkpoints.jsonl' --pattern 'tombstone.json'
```

## 3. Legal hold

```sh
az storage container legal-hold set --account-name orgcavraevidence -c evidence --tags investigation1
```
"
        ),
        other => {
            return Err(EvidenceError::Invalid(format!(
                "unknown provider `{other}` (expected `s3` or `azure`)"
            )))
        }
    };
    Ok(body)
}
