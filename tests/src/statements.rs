//! Turning a pipeline's `SELECT ... INTO t` statements into Postgres views, so that the oracle
//! computes every result table (including ones that read earlier results) with the same SQL.

/// `(table, select without INTO)` for each statement of a config's `sql` block.
pub fn statements(sql: &str) -> Vec<(String, String)> {
    sql.split(';')
        .filter(|s| !s.trim().is_empty())
        .filter_map(|statement| {
            let mut name = None;
            let mut kept = Vec::new();
            for line in statement.lines() {
                match line.trim().strip_prefix("INTO ") {
                    Some(table) => name = Some(table.trim().to_string()),
                    None => kept.push(line),
                }
            }
            name.map(|n| (n, kept.join("\n")))
        })
        .collect()
}

/// The `sql: |` block of a config file (lines indented under it).
pub fn sql_block(config: &str) -> String {
    let mut lines = config
        .lines()
        .skip_while(|l| !l.starts_with("sql: |"))
        .skip(1);
    let mut out = Vec::new();
    for line in lines.by_ref() {
        if !line.is_empty() && !line.starts_with(' ') {
            break;
        }
        out.push(line.trim_start());
    }
    out.join("\n")
}
