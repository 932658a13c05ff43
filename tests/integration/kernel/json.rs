//! The tests read the CLI's `--json` and the workers' lines with the
//! library's own parser; these accessors panic, naming the whole value, when
//! a field is missing or of another type.

pub use sockasm::json::{Json as Value, parse};

/// Panicking field access by `a.b.c` path.
pub trait Field {
    fn at(&self, path: &str) -> &Value;
    fn u64(&self, path: &str) -> u64;
    fn f64(&self, path: &str) -> f64;
    fn bool(&self, path: &str) -> bool;
    fn str(&self, path: &str) -> &str;
    fn arr(&self, path: &str) -> &[Value];
}

impl Field for Value {
    fn at(&self, path: &str) -> &Value {
        self.pointer(path).unwrap_or_else(|| panic!("no {path:?} in {self}"))
    }
    fn u64(&self, path: &str) -> u64 {
        self.at(path).as_u64().unwrap_or_else(|| panic!("{path:?} is not a u64 in {self}"))
    }
    fn f64(&self, path: &str) -> f64 {
        self.at(path).as_f64().unwrap_or_else(|| panic!("{path:?} is not a number in {self}"))
    }
    fn bool(&self, path: &str) -> bool {
        self.at(path).as_bool().unwrap_or_else(|| panic!("{path:?} is not a bool in {self}"))
    }
    fn str(&self, path: &str) -> &str {
        self.at(path).as_str().unwrap_or_else(|| panic!("{path:?} is not a string in {self}"))
    }
    fn arr(&self, path: &str) -> &[Value] {
        self.at(path).as_array().unwrap_or_else(|| panic!("{path:?} is not an array in {self}"))
    }
}
