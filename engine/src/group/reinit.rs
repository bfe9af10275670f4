//! ReInit and branch (RFC 9420 §11.2, §11.3): starting a new group bound to this one by a
//! resumption PSK.
//!
//! ReInit: a committed ReInit proposal ends the old group ([`Group::pending_reinit`]); one
//! member then creates the new group with the ReInit's parameters and commits Adds for the
//! members plus a PreSharedKey of usage `reinit` for the old group's current epoch. Branch:
//! the same with usage `branch`, a new group id, the same suite, and the old group left
//! active. Joiners pass the old group's resumption PSK in [`JoinOptions::resumption_psks`]
//! (see [`Group::resumption_psk_entry`]).

use crate::codec::VarBytes;
use crate::crypto::{CipherSuiteProvider, Secret};
use crate::messages::{
    Add, KeyPackage, PreSharedKey, PreSharedKeyId, Proposal, Psk, ReInit, ResumptionPsk,
    ResumptionPskUsage, WelcomeMessage,
};
use crate::psk::fresh_psk_nonce;

use super::commit::CommitOptions;
use super::error::{GroupError, MisuseError};
#[allow(unused_imports)]
use super::join::JoinOptions;
use super::key_package::KeyPackageBundle;
use super::{Group, GroupConfig};

impl Group {
    /// `(group_id, epoch, resumption_psk)` of the current epoch, for a joiner of a group
    /// started by ReInit or branch from this one.
    pub fn resumption_psk_entry(&self) -> (Vec<u8>, u64, Secret) {
        (
            self.group_id().to_vec(),
            self.epoch(),
            self.keys.resumption_psk.clone(),
        )
    }

    /// Creates the group a committed ReInit asks for (RFC 9420 §11.2): our leaf from
    /// `own` (a KeyPackage in the new suite), Adds for `members`, and a `reinit` resumption
    /// PSK of this group's current epoch. `cs` is the new suite's provider. Returns the new
    /// group at epoch 1 and the Welcome for the members.
    pub fn reinit(
        &self,
        cs: &dyn CipherSuiteProvider,
        own: &KeyPackageBundle,
        members: Vec<KeyPackage>,
        config: GroupConfig,
    ) -> Result<(Group, WelcomeMessage), GroupError> {
        let reinit: ReInit = self
            .pending_reinit
            .clone()
            .ok_or(MisuseError::InvalidArgument("no ReInit committed"))?;
        if reinit.cipher_suite != cs.cipher_suite() {
            return Err(MisuseError::InvalidArgument("provider is not the ReInit's suite").into());
        }
        self.resume(
            cs,
            own,
            members,
            config,
            reinit.group_id.to_vec(),
            reinit.extensions.0,
            ResumptionPskUsage::REINIT,
        )
    }

    /// Branches a subgroup (RFC 9420 §11.3): a new group `group_id` in the same suite with
    /// `members`, bound by a `branch` resumption PSK of this group's current epoch. This
    /// group stays active.
    pub fn branch(
        &self,
        cs: &dyn CipherSuiteProvider,
        own: &KeyPackageBundle,
        members: Vec<KeyPackage>,
        config: GroupConfig,
        group_id: Vec<u8>,
    ) -> Result<(Group, WelcomeMessage), GroupError> {
        self.check_suite(cs)?;
        self.resume(
            cs,
            own,
            members,
            config,
            group_id,
            self.context.extensions.0.clone(),
            ResumptionPskUsage::BRANCH,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn resume(
        &self,
        cs: &dyn CipherSuiteProvider,
        own: &KeyPackageBundle,
        members: Vec<KeyPackage>,
        config: GroupConfig,
        group_id: Vec<u8>,
        extensions: Vec<crate::messages::Extension>,
        usage: ResumptionPskUsage,
    ) -> Result<(Group, WelcomeMessage), GroupError> {
        let mut group = Group::create(cs, own, group_id, extensions, config)?;
        let (old_id, old_epoch, psk) = self.resumption_psk_entry();
        group.resumption_psks.insert(&old_id, old_epoch, psk);
        let mut proposals: Vec<Proposal> = members
            .into_iter()
            .map(|key_package| Proposal::Add(Add { key_package }))
            .collect();
        proposals.push(Proposal::PreSharedKey(PreSharedKey {
            psk: PreSharedKeyId {
                psk: Psk::Resumption(ResumptionPsk {
                    usage,
                    psk_group_id: VarBytes(old_id),
                    psk_epoch: old_epoch,
                }),
                psk_nonce: fresh_psk_nonce(cs)?,
            },
        }));
        let out = group.commit(
            cs,
            CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
        )?;
        // A brand-new group: nobody else has to accept its first commit.
        group.merge_staged_commit(out.staged)?;
        let welcome = out
            .welcome
            .ok_or(MisuseError::InvalidArgument("no members to welcome"))?;
        Ok((group, welcome))
    }
}
