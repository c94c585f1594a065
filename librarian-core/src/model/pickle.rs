//! The original (Python) Librarian keeps some columns as Python pickles; a store's
//! `store_data` is one (its paths). Pickles can run code when Python loads them;
//! here they are only ever read as plain data: the opcodes that build values
//! (strings, numbers, lists, tuples, dicts) are understood, every other one (globals,
//! object construction, `REDUCE`, `BUILD`, persistent ids...) is refused by name,
//! before anything is built. Sizes and nesting are bounded.

use crate::error::{Error, Result};

/// Largest pickle read (bytes).
pub const MAX_PICKLE_BYTES: usize = 64 * 1024;
/// Deepest nesting of containers accepted.
pub const MAX_PICKLE_DEPTH: usize = 32;

/// A plain Python value.
#[derive(Debug, Clone, PartialEq)]
pub enum PickleValue {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A `list`.
    List(Vec<PickleValue>),
    /// A `tuple`.
    Tuple(Vec<PickleValue>),
    /// A `dict`, in insertion order.
    Dict(Vec<(PickleValue, PickleValue)>),
}

impl PickleValue {
    /// The value of `key` in a dict with string keys.
    pub fn get(&self, key: &str) -> Option<&PickleValue> {
        match self {
            PickleValue::Dict(items) => {
                items.iter().find(|(k, _)| matches!(k, PickleValue::Str(s) if s == key)).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PickleValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A node of the value being built: containers are shared by id, so a memoized
/// container filled later is seen filled wherever it is referenced.
#[derive(Debug, Clone)]
enum Node {
    Leaf(PickleValue),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
}

#[derive(Debug, Clone, Copy)]
enum Slot {
    Mark,
    Value(usize),
}

fn bad(why: impl Into<String>) -> Error {
    Error::corrupt("a pickled value of the original Librarian", why.into())
}

/// Read the pickle `bytes` as plain data.
pub fn read_plain(bytes: &[u8]) -> Result<PickleValue> {
    if bytes.len() > MAX_PICKLE_BYTES {
        return Err(bad(format!("{} bytes, more than the {MAX_PICKLE_BYTES} read", bytes.len())));
    }
    let mut nodes: Vec<Node> = Vec::new();
    let mut stack: Vec<Slot> = Vec::new();
    let mut memo: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
        let end =
            at.checked_add(n).filter(|e| *e <= bytes.len()).ok_or_else(|| bad("it ends in the middle of an opcode"))?;
        let s = &bytes[*at..end];
        *at = end;
        Ok(s)
    };
    let le = |b: &[u8]| b.iter().rev().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
    let push = |nodes: &mut Vec<Node>, stack: &mut Vec<Slot>, n: Node| {
        nodes.push(n);
        stack.push(Slot::Value(nodes.len() - 1));
    };
    let pop_value = |stack: &mut Vec<Slot>| -> Result<usize> {
        match stack.pop() {
            Some(Slot::Value(v)) => Ok(v),
            _ => Err(bad("an opcode found no value where it needs one")),
        }
    };
    let pop_to_mark = |stack: &mut Vec<Slot>| -> Result<Vec<usize>> {
        let mut items = Vec::new();
        loop {
            match stack.pop() {
                Some(Slot::Value(v)) => items.push(v),
                Some(Slot::Mark) => break,
                None => return Err(bad("no MARK where one is needed")),
            }
        }
        items.reverse();
        Ok(items)
    };
    loop {
        let op = *take(&mut at, 1)?.first().ok_or_else(|| bad("empty"))?;
        match op {
            0x80 => {
                take(&mut at, 1)?;
            } // PROTO
            0x95 => {
                take(&mut at, 8)?;
            } // FRAME
            b'.' => break, // STOP
            b'(' => stack.push(Slot::Mark),
            b'0' => {
                stack.pop().ok_or_else(|| bad("POP of nothing"))?;
            }
            b'1' => {
                pop_to_mark(&mut stack)?;
            }
            b'N' => push(&mut nodes, &mut stack, Node::Leaf(PickleValue::None)),
            0x88 => push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Bool(true))),
            0x89 => push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Bool(false))),
            b'J' => {
                let b = take(&mut at, 4)?;
                let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Int(i64::from(v))));
            }
            b'K' => {
                let v = take(&mut at, 1)?[0];
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Int(i64::from(v))));
            }
            b'M' => {
                let b = take(&mut at, 2)?;
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Int(i64::from(u16::from_le_bytes([b[0], b[1]])))));
            }
            0x8a => {
                // LONG1: n bytes, little-endian two's complement.
                let n = usize::from(take(&mut at, 1)?[0]);
                let b = take(&mut at, n)?;
                if n > 8 {
                    return Err(bad("an int wider than 64 bits"));
                }
                let mut v: i64 = 0;
                for (i, x) in b.iter().enumerate() {
                    v |= i64::from(*x) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Int(v)));
            }
            b'G' => {
                let b = take(&mut at, 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Float(f64::from_be_bytes(a))));
            }
            0x8c | b'X' | 0x8d => {
                let width = match op {
                    0x8c => 1,
                    b'X' => 4,
                    _ => 8,
                };
                let n = usize::try_from(le(take(&mut at, width)?)).map_err(|_| bad("a string too long"))?;
                let s = std::str::from_utf8(take(&mut at, n)?).map_err(|_| bad("a string that is not UTF-8"))?;
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Str(s.to_owned())));
            }
            b'C' | b'B' => {
                let width = if op == b'C' { 1 } else { 4 };
                let n = usize::try_from(le(take(&mut at, width)?)).map_err(|_| bad("bytes too long"))?;
                let b = take(&mut at, n)?.to_vec();
                push(&mut nodes, &mut stack, Node::Leaf(PickleValue::Bytes(b)));
            }
            b'}' => push(&mut nodes, &mut stack, Node::Dict(Vec::new())),
            b']' => push(&mut nodes, &mut stack, Node::List(Vec::new())),
            b')' => push(&mut nodes, &mut stack, Node::Tuple(Vec::new())),
            b't' => {
                let items = pop_to_mark(&mut stack)?;
                push(&mut nodes, &mut stack, Node::Tuple(items));
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(pop_value(&mut stack)?);
                }
                items.reverse();
                push(&mut nodes, &mut stack, Node::Tuple(items));
            }
            b's' | b'u' | b'a' | b'e' => {
                let items = if op == b's' || op == b'a' {
                    let n = if op == b's' { 2 } else { 1 };
                    let mut v = Vec::with_capacity(n);
                    for _ in 0..n {
                        v.push(pop_value(&mut stack)?);
                    }
                    v.reverse();
                    v
                } else {
                    pop_to_mark(&mut stack)?
                };
                let Some(Slot::Value(target)) = stack.last().copied() else {
                    return Err(bad("nothing to add the items to"));
                };
                match (&mut nodes[target], op) {
                    (Node::Dict(d), b's' | b'u') => {
                        if items.len() % 2 != 0 {
                            return Err(bad("a dict item without its value"));
                        }
                        d.extend(items.chunks(2).map(|kv| (kv[0], kv[1])));
                    }
                    (Node::List(l), b'a' | b'e') => l.extend(items),
                    _ => return Err(bad("items added to something that is not a dict or a list")),
                }
            }
            0x94 => {
                let Some(Slot::Value(v)) = stack.last().copied() else { return Err(bad("MEMOIZE of nothing")) };
                memo.insert(memo.len() as u64, v);
            }
            b'q' | b'r' => {
                let key = le(take(&mut at, if op == b'q' { 1 } else { 4 })?);
                let Some(Slot::Value(v)) = stack.last().copied() else { return Err(bad("BINPUT of nothing")) };
                memo.insert(key, v);
            }
            b'h' | b'j' => {
                let key = le(take(&mut at, if op == b'h' { 1 } else { 4 })?);
                let v = *memo.get(&key).ok_or_else(|| bad("BINGET of a value never memoized"))?;
                stack.push(Slot::Value(v));
            }
            other => return Err(bad(format!("opcode {} (0x{other:02x}) is not plain data: refused", name(other)))),
        }
    }
    let root = match stack.as_slice() {
        [Slot::Value(v)] => *v,
        _ => return Err(bad("it does not end with exactly one value")),
    };
    build(&nodes, root, 0)
}

/// The name of an opcode that is refused, for the message.
fn name(op: u8) -> &'static str {
    match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        b'P' | b'Q' => "PERSID",
        0x82..=0x84 => "EXT",
        _ => "unknown or text-protocol",
    }
}

fn build(nodes: &[Node], id: usize, depth: usize) -> Result<PickleValue> {
    if depth > MAX_PICKLE_DEPTH {
        return Err(bad(format!("nested deeper than {MAX_PICKLE_DEPTH} (or a container holds itself)")));
    }
    let list = |ids: &[usize]| ids.iter().map(|i| build(nodes, *i, depth + 1)).collect::<Result<Vec<_>>>();
    Ok(match nodes.get(id).ok_or_else(|| bad("a reference to nothing"))? {
        Node::Leaf(v) => v.clone(),
        Node::List(ids) => PickleValue::List(list(ids)?),
        Node::Tuple(ids) => PickleValue::Tuple(list(ids)?),
        Node::Dict(items) => PickleValue::Dict(
            items
                .iter()
                .map(|(k, v)| Ok((build(nodes, *k, depth + 1)?, build(nodes, *v, depth + 1)?)))
                .collect::<Result<Vec<_>>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(h: &str) -> Vec<u8> {
        (0..h.len()).step_by(2).map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex")).collect()
    }

    /// `store_data` of site A's `main_store` (tests/fixtures/so-librarian/site-a.sqlite).
    const MAIN_STORE: &str = "80059589000000000000007D94288C0C73746167696E675F70617468948C282F7372762F736F2D6C696272617269616E2F736F2D736974652D612F6D61696E2F73746167696E67948C0A73746F72655F70617468948C262F7372762F736F2D6C696272617269616E2F736F2D736974652D612F6D61696E2F73746F7265948C046E616D65948C0A6D61696E5F73746F726594752E";

    #[test]
    fn the_original_store_data_reads_as_a_plain_dict() {
        let v = read_plain(&unhex(MAIN_STORE)).expect("plain data");
        assert_eq!(v.get("store_path").and_then(PickleValue::as_str), Some("/srv/so-librarian/so-site-a/main/store"));
        assert_eq!(
            v.get("staging_path").and_then(PickleValue::as_str),
            Some("/srv/so-librarian/so-site-a/main/staging")
        );
        assert_eq!(v.get("name").and_then(PickleValue::as_str), Some("main_store"));
        assert_eq!(read_plain(b"\x80\x05}\x94.").ok(), Some(PickleValue::Dict(Vec::new())));
    }

    #[test]
    fn numbers_lists_tuples_and_shared_containers_read_as_python_would() {
        // {'f': 0.99, 'l': [1, -2, True, None], 't': (b'x',), 'n': 300, 'big': -70000}
        let mut p = vec![0x80, 5, b'}', 0x94, b'('];
        p.extend([0x8c, 1, b'f', b'G']);
        p.extend(0.99f64.to_be_bytes());
        p.extend([0x8c, 1, b'l', b']', 0x94, b'(', b'K', 1, 0x8a, 1, 0xfe, 0x88, b'N', b'e']);
        p.extend([0x8c, 1, b't', b'C', 1, b'x', 0x85]);
        p.extend([0x8c, 1, b'n', b'M', 0x2c, 0x01]);
        p.extend([0x8c, 3, b'b', b'i', b'g', b'J']);
        p.extend((-70000i32).to_le_bytes());
        p.extend([0x8c, 1, b's', b'h', 1]); // the list again, shared by memo
        p.extend([b'u', b'.']);
        let v = read_plain(&p).expect("plain");
        assert_eq!(v.get("f"), Some(&PickleValue::Float(0.99)));
        let list = PickleValue::List(vec![
            PickleValue::Int(1),
            PickleValue::Int(-2),
            PickleValue::Bool(true),
            PickleValue::None,
        ]);
        assert_eq!(v.get("l"), Some(&list));
        assert_eq!(v.get("s"), Some(&list), "a memoized list is seen filled");
        assert_eq!(v.get("t"), Some(&PickleValue::Tuple(vec![PickleValue::Bytes(b"x".to_vec())])));
        assert_eq!(v.get("n"), Some(&PickleValue::Int(300)));
        assert_eq!(v.get("big"), Some(&PickleValue::Int(-70000)));
    }

    #[test]
    fn objects_globals_and_oversized_or_broken_pickles_are_refused_by_name() {
        // The original's transfer-manager pickles start like this: STACK_GLOBAL of
        // hera_librarian.async_transfers.local.LocalAsyncTransferManager, then NEWOBJ.
        let mut p = vec![0x80, 5, 0x8c, 3, b'o', b's', b'.', 0x94, 0x8c, 6];
        p.extend(b"system");
        p.extend([0x94, 0x93, 0x94, b')', 0x81, b'.']);
        let e = read_plain(&p).expect_err("a global");
        assert_eq!(e.code(), "corrupt");
        assert!(e.to_string().contains("STACK_GLOBAL"), "{e}");
        for (bytes, what) in [
            (b"cos\nsystem\n.".to_vec(), "GLOBAL"),
            (vec![0x80, 5, b'}', b')', b'R', b'.'], "REDUCE"),
            (vec![0x80, 5, b'}', b'}', b'b', b'.'], "BUILD"),
        ] {
            let e = read_plain(&bytes).expect_err(what);
            assert!(e.to_string().contains(what), "{what}: {e}");
        }
        assert!(read_plain(&vec![b'N'; MAX_PICKLE_BYTES + 1]).is_err(), "too big");
        let mut deep = vec![0x80, 5];
        deep.extend(std::iter::repeat_n(b']', MAX_PICKLE_DEPTH + 2));
        deep.extend(std::iter::repeat_n(b'a', MAX_PICKLE_DEPTH + 1));
        deep.push(b'.');
        assert!(read_plain(&deep).expect_err("deep").to_string().contains("deeper"));
        for broken in [&b""[..], b"\x80", b"\x80\x05\x8c\x05ab.", b"\x80\x05NN.", b"\x80\x05s.", b"\x80\x05h\x07."] {
            assert_eq!(read_plain(broken).map_err(|e| e.code()).err(), Some("corrupt"), "{broken:?}");
        }
    }
}
