//! Helper names for listings and the text assembler, by id. The table itself
//! (ids and names, written once) is [`crate::uapi::Helper`].
//!
//! Names carry the `bpf_` prefix the C declarations use (`bpf_map_lookup_elem`).

pub use crate::uapi::Helper;

/// The highest helper id the table knows.
pub const MAX_HELPER_ID: i32 = Helper::MAX_ID;

/// The name of helper `id` (`1` → `bpf_map_lookup_elem`), if there is one.
pub fn helper_name(id: i32) -> Option<&'static str> {
    Helper::from_id(id).map(Helper::name)
}

/// The id of the helper named `name`, with or without the `bpf_` prefix.
pub fn helper_id(name: &str) -> Option<i32> {
    Helper::from_name(name).map(Helper::id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids() {
        assert_eq!(helper_name(1), Some("bpf_map_lookup_elem"));
        assert_eq!(helper_name(113), Some("bpf_probe_read_kernel"));
        assert_eq!(helper_name(211), Some("bpf_cgrp_storage_delete"));
        assert_eq!(helper_name(0), None);
        assert_eq!(helper_name(212), None);
        assert_eq!(helper_name(-1), None);
    }

    #[test]
    fn names_round_trip() {
        for id in 1..=MAX_HELPER_ID {
            let name = helper_name(id).unwrap();
            assert_eq!(helper_id(name), Some(id), "{name}");
            assert_eq!(helper_id(&name[4..]), Some(id), "{name}");
        }
        assert_eq!(helper_id("bpf_no_such_helper"), None);
    }
}
