//! The native reference the browser tests compare against: reads lines of
//! JSON `{"A":..,"B":..}` on stdin (A and B as Dana text strings or JSON
//! arrays) and prints one line per input, the product in Dana text or
//! `error: <message>`.
//!
//! `echo '{"A":"[[1,2],[3,4]]","B":[[5,6],[7,8]]}' | cargo run --release -p kernel --example multiply`

use std::io::{BufRead, BufWriter, Write};

use serde_json::Value;

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match multiply_line(&line) {
            Ok(product) => writeln!(out, "{product}")?,
            Err(message) => writeln!(out, "error: {message}")?,
        }
        out.flush()?;
    }
    Ok(())
}

/// The product for one input line, or the error message.
fn multiply_line(line: &str) -> Result<String, String> {
    let task: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let a = operand(&task, "A")?;
    let b = operand(&task, "B")?;
    kernel::multiply_text(&a, &b).map_err(|e| e.to_string())
}

/// Field `name` as matrix text: a string as is, an array as its JSON text.
fn operand(task: &Value, name: &str) -> Result<String, String> {
    match task.get(name) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(value @ Value::Array(_)) => Ok(value.to_string()),
        Some(_) => Err(format!("{name} must be a matrix string or an array")),
        None => Err(format!("missing field {name}")),
    }
}
