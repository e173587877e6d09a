//! Storage ports for instance-spanning state, and their in-memory
//! implementations (tests, single-instance hosts). Workers (KV, Durable
//! Objects) and Lambda (DynamoDB through [`crate::aws`]) implementations
//! come with the features that need them: key records, the response cache,
//! stored responses, budgets and rate limits.

pub mod accounts;
pub mod cache;
pub mod kv;
pub mod ledger;

pub use cache::{CacheStore, Tier, Tiered};
pub use kv::{KvStore, MemoryKv, SharedKv};
pub use ledger::{Ledger, LedgerAnswer, Limit, MemoryLedger, Reservation};
