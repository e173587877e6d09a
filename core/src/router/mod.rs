//! Model groups: which deployments serve a name, in what order a request
//! tries them, when it waits, when it falls back to another group, and what
//! the instance remembers about each deployment between requests. Sans-IO:
//! the pipeline's route-plan and send stages drive it.

pub mod health;
pub mod order;
pub mod plan;
pub mod region;

pub use health::{Busy, Health};
pub use order::Candidate;
pub use plan::{Group, Groups, Plan, Step};

use crate::config::{Config, RouterSettings};

/// The `model_list` entries that serve `name` exactly, as indexes: a group
/// when there are several. Empty when the name is served otherwise (a
/// wildcard, `provider/model`).
pub fn members(config: &Config, name: &str) -> Vec<usize> {
    config
        .model_list
        .iter()
        .enumerate()
        .filter(|(_, e)| e.model_name == name)
        .map(|(i, _)| i)
        .collect()
}

/// The fallback groups of `name` from one of the three tables; `*` names
/// the fallbacks of every group without its own.
pub fn fallbacks_of<'s>(
    table: &'s std::collections::BTreeMap<String, Vec<String>>,
    name: &str,
) -> &'s [String] {
    table
        .get(name)
        .or_else(|| table.get("*"))
        .map_or(&[], Vec::as_slice)
}

/// The three fallback lists of `name`, in the settings' order.
pub fn fallback_lists<'s>(s: &'s RouterSettings, name: &str) -> [&'s [String]; 3] {
    [
        fallbacks_of(&s.fallbacks, name),
        fallbacks_of(&s.context_window_fallbacks, name),
        fallbacks_of(&s.content_policy_fallbacks, name),
    ]
}
