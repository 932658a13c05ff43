//! BTF, the kernel's type format, as plain data: its constants (once, from
//! `include/uapi/linux/btf.h`), the readers of a kernel's BTF ([`kernel`]:
//! struct member offsets from /sys/kernel/btf/vmlinux) and of an object's
//! `.BTF` section ([`object`]: map definitions), and the generator of small
//! blobs ([`builder`]). Loading a blob into the kernel is
//! [`crate::syscall::load_btf`].

pub mod builder;
pub mod kernel;
pub mod object;

/// `BTF_MAGIC` of `struct btf_header`.
pub const BTF_MAGIC: u16 = 0xeb9f;

/// `BTF_KIND_*`: the kind of a `struct btf_type` record (bits 24-28 of its `info`).
pub const KIND_INT: u32 = 1;
pub const KIND_PTR: u32 = 2;
pub const KIND_ARRAY: u32 = 3;
pub const KIND_STRUCT: u32 = 4;
pub const KIND_UNION: u32 = 5;
pub const KIND_ENUM: u32 = 6;
pub const KIND_FWD: u32 = 7;
pub const KIND_TYPEDEF: u32 = 8;
pub const KIND_VOLATILE: u32 = 9;
pub const KIND_CONST: u32 = 10;
pub const KIND_RESTRICT: u32 = 11;
pub const KIND_FUNC: u32 = 12;
pub const KIND_FUNC_PROTO: u32 = 13;
pub const KIND_VAR: u32 = 14;
pub const KIND_DATASEC: u32 = 15;
pub const KIND_FLOAT: u32 = 16;
pub const KIND_DECL_TAG: u32 = 17;
pub const KIND_TYPE_TAG: u32 = 18;
pub const KIND_ENUM64: u32 = 19;
/// The largest kind this reader knows.
pub const KIND_MAX: u32 = KIND_ENUM64;

/// `BTF_KIND_FUNC` linkage (its vlen): a static function.
pub const BTF_FUNC_STATIC: u32 = 0;
/// `BTF_KIND_FUNC` linkage: a global function (verified on its own).
pub const BTF_FUNC_GLOBAL: u32 = 1;
/// `BTF_INT_SIGNED` encoding bit.
pub const BTF_INT_SIGNED: u32 = 1;
