//! What both stores carry beside their connection (approval configuration, escalation
//! policy, signer, trust root, rows found unverified) and the one set of methods over it,
//! with the methods that are the same on both backends because they only call others.

/// The builder and accessor methods of the settings, for a store type with the fields
/// `config`, `escalation`, `signer`, `trust_dir`, `trust` and `unverified`. Expanded inside
/// `impl Store` and `impl PgStore`.
macro_rules! store_settings {
    () => {
        /// Use this routing / RBAC configuration for approvals.
        pub fn with_config(mut self, config: $crate::config::ApprovalConfig) -> Self {
            self.config = config;
            self
        }

        /// Replace the routing / RBAC configuration in place.
        pub fn set_config(&mut self, config: $crate::config::ApprovalConfig) {
            self.config = config;
        }

        /// Sign the approval, break-glass and release records written through this store
        /// with `signer` (without one, those changes are refused).
        pub fn with_signer(mut self, signer: $crate::approver::Signer) -> Self {
            self.signer = Some(signer);
            self
        }

        /// `with_signer` in place.
        pub fn set_signer(&mut self, signer: $crate::approver::Signer) {
            self.signer = Some(signer);
        }

        /// Verify records against this trust root (replaces `with_trust_dir`).
        pub fn with_trust(self, trust: $crate::approver::ApproverTrust) -> Self {
            let _ = self.trust.set(trust);
            self
        }

        /// Verify records against the approver public key in `dir`, read on first use. A
        /// missing or unreadable key verifies nothing.
        pub fn with_trust_dir(mut self, dir: std::path::PathBuf) -> Self {
            self.trust_dir = Some(dir);
            self
        }

        /// The trust root records are verified against (empty: nothing verifies).
        pub fn trust(&self) -> &$crate::approver::ApproverTrust {
            self.trust.get_or_init(|| {
                self.trust_dir
                    .as_deref()
                    .and_then(|d| $crate::approver::ApproverTrust::load(d).ok())
                    .unwrap_or_default()
            })
        }

        /// Use this escalation policy for `record_block`.
        pub fn with_escalation(mut self, policy: $crate::sessions::EscalationPolicy) -> Self {
            self.escalation = policy;
            self
        }

        pub(crate) fn note_unverified(&self, u: $crate::tamper::Unverified) {
            let mut v = self.unverified.borrow_mut();
            if !v.iter().any(|x| x.row_key == u.row_key) {
                v.push(u);
            }
        }

        /// The unverified rows met since the last call (by consuming approvals, matching
        /// break-glass records or checking holds).
        pub fn take_unverified(&self) -> Vec<$crate::tamper::Unverified> {
            std::mem::take(&mut *self.unverified.borrow_mut())
        }

        /// Approve a pending request. Refused when `identity` is the requester or its
        /// agent (self-approval), when RBAC (if configured) does not let `identity`
        /// approve for the request's group, or when the request is not pending / has
        /// expired (the rules of [`crate::rules::decide`]).
        pub fn approve(
            &mut self,
            id: &str,
            identity: &str,
            reason: &str,
            now: time::OffsetDateTime,
            opts: $crate::approvals::ApproveOptions,
        ) -> Result<$crate::approvals::Approval, $crate::error::StoreError> {
            let perm = $crate::config::Permission::Approve;
            self.decide(id, identity, reason, now, perm, opts.max_uses)
        }

        /// Deny a pending request (the same checks as `approve`).
        pub fn deny(
            &mut self,
            id: &str,
            identity: &str,
            reason: &str,
            now: time::OffsetDateTime,
        ) -> Result<$crate::approvals::Approval, $crate::error::StoreError> {
            let perm = $crate::config::Permission::Deny;
            self.decide(id, identity, reason, now, perm, None)
        }

        /// Set an MCP server's trust tier and approval state (approve / block).
        pub fn set_mcp_state(
            &mut self,
            id: &str,
            trust_tier: &str,
            approval_state: &str,
            now: time::OffsetDateTime,
        ) -> Result<$crate::registry::McpServer, $crate::error::StoreError> {
            let mut s = self
                .mcp_server(id)?
                .ok_or_else(|| $crate::error::StoreError::UnknownMcpServer(id.to_string()))?;
            s.trust_tier = trust_tier.to_string();
            s.approval_state = approval_state.to_string();
            self.put_mcp_server(&s, true, now)
        }

        /// One API token record.
        pub fn api_token(
            &self,
            id: &str,
        ) -> Result<$crate::tokens::ApiToken, $crate::error::StoreError> {
            let row = self.token_row("token_id", id)?;
            $crate::tokens::decode_token(row.ok_or_else(|| $crate::tokens::unknown_token(id))?)
        }

        /// The active API token whose SHA-256 matches `token`; `None` for an unknown,
        /// revoked or expired token (or one that is not of the API token form).
        pub fn authenticate_api_token(
            &self,
            token: &str,
            now: time::OffsetDateTime,
        ) -> Result<Option<$crate::tokens::ApiToken>, $crate::error::StoreError> {
            $crate::tokens::authenticate_with(token, now, |h| self.token_row("token_hash", h))
        }
    };
}

pub(crate) use store_settings;
