//! The app's Parquet reader (`profile-parquet_bg.wasm`): a Wasm module of its
//! own, which the worker loads only when a Parquet file is dropped, so the
//! app's first load carries no Parquet decoder. Two Wasm modules share no
//! memory: the worker hands it the file's bytes once ([`parquet_open`]) and
//! takes its rows one row group at a time as JSON lines ([`parquet_group`],
//! a [`profile::data::GroupLines`]), which it pushes into its loader at each
//! row's line, as `load_parquet` does natively.

#[cfg(target_arch = "wasm32")]
mod edge {
    use std::cell::RefCell;

    use profile::data::ParquetRows;
    use wasm_bindgen::prelude::*;

    thread_local! {
        static OPEN: RefCell<Option<ParquetRows<bytes::Bytes>>> = const { RefCell::new(None) };
    }

    /// Opens a Parquet file (its footer and schema): its number of row
    /// groups. Throws why the file is not a readable Parquet file.
    #[wasm_bindgen]
    pub fn parquet_open(data: Vec<u8>) -> Result<u32, String> {
        let rows = ParquetRows::open(bytes::Bytes::from(data))?;
        let n = u32::try_from(rows.groups()).map_err(|_| "too many row groups".to_owned())?;
        OPEN.with(|o| *o.borrow_mut() = Some(rows));
        Ok(n)
    }

    /// Row group `group` of the open file (read in order from 0) as
    /// `{"first", "lines", "diagnostic"}` JSON.
    #[wasm_bindgen]
    pub fn parquet_group(group: u32) -> Result<String, String> {
        OPEN.with(|o| {
            let mut o = o.borrow_mut();
            let rows = o.as_mut().ok_or("no Parquet file is open")?;
            if group as usize >= rows.groups() {
                return Err(format!("no row group {group}"));
            }
            // As JSON text: the worker reads it with the JSON reader it has.
            serde_json::to_string(&rows.group_lines(group as usize)).map_err(|e| e.to_string())
        })
    }

    /// Lets the file go.
    #[wasm_bindgen]
    pub fn parquet_close() {
        OPEN.with(|o| o.borrow_mut().take());
    }
}

fn main() {
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("the Parquet module runs in the app's worker: `trunk build --release` writes dist/profile-parquet.js");
}
