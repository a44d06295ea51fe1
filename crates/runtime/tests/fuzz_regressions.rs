//! Inputs that `fuzz/` found to panic, each now a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use distillery_runtime::{QuantizedStudent, RuntimeError, Student};

const INT8: &[u8] = include_bytes!("../../../tests/data/export/student.int8.safetensors");
const FP32: &[u8] = include_bytes!("../../../tests/data/export/student.safetensors");

/// Rewrites `from` to `to` (same length) once in the artifact's JSON header.
fn edit_header(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(header.contains(from), "{from} not in the header");
    let mut out = bytes.to_vec();
    out[8..8 + n].copy_from_slice(header.replacen(from, to, 1).as_bytes());
    out
}

#[test]
fn a_tensor_shorter_than_its_shape_is_refused_not_read_past() {
    // The fuzzer's crash: the first weight's data starts one byte later, so it holds one
    // byte fewer than 102 × 16; loading passed and the int8 kernel's bounds assert fired.
    let bad = edit_header(INT8, "[64,1696]", "[65,1696]");
    let err = QuantizedStudent::from_bytes(&bad).expect_err("refused");
    assert!(matches!(err, RuntimeError::Format(_)), "{err:?}");
    assert!(err.to_string().contains("1631 bytes"), "{err}");
    assert!(QuantizedStudent::from_bytes(INT8).is_ok());
}

#[test]
fn the_fp32_artifact_gets_the_same_check() {
    let n = u64::from_le_bytes(FP32[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&FP32[8..8 + n]).unwrap();
    // Take the first tensor's end offset and move it back by one byte.
    let at = header.find("\"data_offsets\":[0,").unwrap() + "\"data_offsets\":[0,".len();
    let end: String = header[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let shorter = format!(
        "{:0width$}",
        end.parse::<usize>().unwrap() - 1,
        width = end.len()
    );
    let bad = edit_header(FP32, &format!("[0,{end}]"), &format!("[0,{shorter}]"));
    assert!(Student::from_bytes(&bad).is_err());
    assert!(Student::from_bytes(FP32).is_ok());
}
