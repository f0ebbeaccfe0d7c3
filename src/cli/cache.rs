//! `profile cache export|import`.

use super::*;

pub(super) fn cmd_cache(args: &[String]) -> Result<String, Failure> {
    use crate::llm::threads::DiskCache;
    let f = parse_flags(args, &["cache-dir"], &[])?;
    let dir = std::path::Path::new(
        f.values
            .get("cache-dir")
            .map_or(".profile-cache", String::as_str),
    );
    let fail = |e: crate::llm::threads::CacheError| {
        data_error(format!("cannot open the cache in {}: {e}", dir.display()))
    };
    match f.positional.as_slice() {
        [cmd] if cmd == "export" => {
            // Read only: no lock, so a run may go on meanwhile.
            let (mem, bad) = DiskCache::read(dir).map_err(fail)?;
            warn_cache_lines(&dir.join("cache.jsonl"), &bad);
            Ok(mem.to_jsonl())
        }
        [cmd, file] if cmd == "import" => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| data_error(format!("cannot read {file}: {e}")))?;
            let (mut cache, bad) = DiskCache::open(dir).map_err(fail)?;
            warn_cache_lines(cache.path(), &bad);
            let (added, problems) = cache.import_jsonl(&text).map_err(|e| {
                data_error(format!(
                    "cannot write the cache {}: {e}; the import stopped (entries before the \
                     failure are stored)",
                    cache.path().display()
                ))
            })?;
            // Lines read only now (the file is read when first needed).
            warn_cache_lines(cache.path(), &cache.take_problems());
            let mut out = format!("{added} new entries added to {}\n", cache.path().display());
            for d in &problems {
                out.push_str(&format!("skipped {file}: {d}\n"));
            }
            Ok(out)
        }
        _ => Err(usage_error(
            "use `profile cache export` or `profile cache import FILE`",
        )),
    }
}
