//! The tests read the CLI's `--json` and the workers' lines as untyped
//! `serde_json` values, the way any outside consumer would; these accessors
//! panic, naming the whole value, when a field is missing or of another type.

pub use serde_json::Value;

/// One JSON document.
pub fn parse(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str(text)
}

/// The value at `a.b.c` (keys of nested objects).
fn dotted<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

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
        dotted(self, path).unwrap_or_else(|| panic!("no {path:?} in {self}"))
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
        self.at(path).as_array().map(Vec::as_slice).unwrap_or_else(|| panic!("{path:?} is not an array in {self}"))
    }
}
