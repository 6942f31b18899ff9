//! Table definitions: the `hive/ddl/*.sql` files, parsed.
//!
//! The DDL files are the one source of truth for our tables. They are compiled into this crate
//! with `include_str!` and parsed at run time by [`TableDef::parse`]; the Arrow schemas
//! ([`crate::schema`]) and the metastore `Table` objects ([`crate::metastore`]) are derived from
//! the parsed definition, so they cannot drift from the DDL a human reads or runs with beeline.
//!
//! The parser accepts exactly the subset of Hive DDL our files use, and rejects anything else
//! with an error naming the offending token:
//!
//! ```sql
//! CREATE EXTERNAL TABLE [IF NOT EXISTS] ${DATABASE}.name (
//!   column TYPE [COMMENT '…'], …
//! )
//! [COMMENT '…']
//! PARTITIONED BY (column TYPE [COMMENT '…'], …)
//! STORED AS ORC | TEXTFILE
//! LOCATION '${DB_LOCATION}/…';
//! ```
//!
//! `TYPE` is one of `STRING`, `BIGINT`, `INT`, `BOOLEAN`, `TIMESTAMP`, `BINARY` (the types we
//! write). A column name may be quoted with backticks (`` `date` ``, a reserved word in Hive
//! SQL). `--` comments are ignored. `${DATABASE}` and `${DB_LOCATION}` are placeholders filled by
//! [`TableDef::render`] (and by beeline's `--hivevar` when the files are run by hand); the
//! archive's table is placed by `${ARCHIVE_ROOT}` instead ([`crate::archive`]).

use std::fmt;

/// How a table's files are stored (`STORED AS …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFormat {
    /// `ORC`: the dataflow's tables, written through [`crate::orc`].
    Orc,
    /// `TEXTFILE`: one line per row, read with `LazySimpleSerDe` (the raw archive).
    TextFile,
}

/// A Hive column type that our ORC writer produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiveType {
    /// `STRING`: UTF-8 text (Arrow `Utf8`).
    String,
    /// `BIGINT`: signed 64-bit integer (Arrow `Int64`).
    Bigint,
    /// `INT`: signed 32-bit integer (Arrow `Int32`).
    Int,
    /// `BOOLEAN`: true or false (Arrow `Boolean`, ORC `BOOLEAN`).
    Boolean,
    /// `TIMESTAMP`: UTC wall-clock time, millisecond precision (Arrow
    /// `Timestamp(Millisecond, None)`, ORC `TIMESTAMP` with writer time zone UTC).
    Timestamp,
    /// `BINARY`: raw bytes (Arrow `Binary`).
    Binary,
}

impl HiveType {
    /// The type name the metastore stores (`FieldSchema.type`): lower case, e.g. `bigint`.
    pub fn metastore_name(self) -> &'static str {
        match self {
            HiveType::String => "string",
            HiveType::Bigint => "bigint",
            HiveType::Int => "int",
            HiveType::Boolean => "boolean",
            HiveType::Timestamp => "timestamp",
            HiveType::Binary => "binary",
        }
    }

    fn from_keyword(word: &str) -> Option<Self> {
        Some(match word.to_ascii_uppercase().as_str() {
            "STRING" => HiveType::String,
            "BIGINT" => HiveType::Bigint,
            "INT" | "INTEGER" => HiveType::Int,
            "BOOLEAN" => HiveType::Boolean,
            "TIMESTAMP" => HiveType::Timestamp,
            "BINARY" => HiveType::Binary,
            _ => return None,
        })
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metastore_name())
    }
}

/// One column of a table or of its partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name, lower case.
    pub name: String,
    /// Column type.
    pub hive_type: HiveType,
    /// The `COMMENT '…'`, if any.
    pub comment: Option<String>,
}

/// A parsed `CREATE EXTERNAL TABLE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// Table name without the database, lower case.
    pub name: String,
    /// Data columns in file order (the ORC files hold exactly these, in this order).
    pub columns: Vec<ColumnDef>,
    /// Partition columns (`PARTITIONED BY`); for our tables exactly `dt STRING`.
    pub partition_keys: Vec<ColumnDef>,
    /// The table `COMMENT '…'`, if any.
    pub comment: Option<String>,
    /// `STORED AS …`.
    pub format: StorageFormat,
    /// The `LOCATION` with its `${DB_LOCATION}` placeholder unfilled.
    pub location_template: String,
    /// The DDL text as written, placeholders unfilled.
    pub sql: String,
}

/// Why a DDL text could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DdlError {
    /// The text does not follow the accepted grammar (see the module docs).
    #[error("DDL syntax error at byte {offset}: expected {expected}, found {found}")]
    Syntax {
        /// Byte offset of the offending token in the DDL text.
        offset: usize,
        /// What the parser expected there.
        expected: String,
        /// The token it found (or `end of input`).
        found: String,
    },
    /// A column type we do not write (only `STRING`, `BIGINT`, `INT`, `BOOLEAN`, `TIMESTAMP`,
    /// `BINARY`).
    #[error("unsupported column type {type_name} for column {column}")]
    UnsupportedType {
        /// Column name.
        column: String,
        /// The type as written.
        type_name: String,
    },
    /// A column name appears twice (data and partition columns share one name space).
    #[error("duplicate column name {0}")]
    DuplicateColumn(String),
    /// A database name that is not a plain Hive identifier (`[a-z0-9_]+`).
    #[error("invalid database name {0:?}: use lower-case letters, digits and _")]
    InvalidDatabase(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// A backtick-quoted identifier.
    Quoted(String),
    Str(String),
    Placeholder(String),
    Punct(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) | Tok::Quoted(w) => write!(f, "`{w}`"),
            Tok::Str(s) => write!(f, "'{s}'"),
            Tok::Placeholder(p) => write!(f, "${{{p}}}"),
            Tok::Punct(c) => write!(f, "`{c}`"),
        }
    }
}

fn syntax(offset: usize, expected: &str, found: Option<&Tok>) -> DdlError {
    DdlError::Syntax {
        offset,
        expected: expected.to_string(),
        found: found.map_or_else(|| "end of input".to_string(), Tok::to_string),
    }
}

fn tokenize(sql: &str) -> Result<Vec<(usize, Tok)>, DdlError> {
    let bytes = sql.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if c == b'\'' {
            // Hive string literal; '' inside is an escaped quote.
            let start = i;
            let mut value = String::new();
            i += 1;
            loop {
                match sql[i..].find('\'') {
                    None => return Err(syntax(start, "a closing quote", None)),
                    Some(n) => {
                        value.push_str(&sql[i..i + n]);
                        i += n + 1;
                        if bytes.get(i) == Some(&b'\'') {
                            value.push('\'');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            toks.push((start, Tok::Str(value)));
        } else if c == b'`' {
            let start = i;
            let end = sql[i + 1..]
                .find('`')
                .ok_or_else(|| syntax(start, "a closing backtick", None))?;
            toks.push((start, Tok::Quoted(sql[i + 1..i + 1 + end].to_string())));
            i += end + 2;
        } else if sql[i..].starts_with("${") {
            let start = i;
            let end = sql[i..]
                .find('}')
                .ok_or_else(|| syntax(start, "`}`", None))?;
            toks.push((start, Tok::Placeholder(sql[i + 2..i + end].to_string())));
            i += end + 1;
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            toks.push((start, Tok::Word(sql[start..i].to_string())));
        } else if b"(),.;".contains(&c) {
            toks.push((i, Tok::Punct(c as char)));
            i += 1;
        } else {
            let ch = sql[i..].chars().next().unwrap_or('?');
            return Err(DdlError::Syntax {
                offset: i,
                expected: "a word, a string, a placeholder or one of ( ) , . ;".into(),
                found: format!("`{ch}`"),
            });
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(o, _)| *o)
    }

    fn fail<T>(&self, expected: &str) -> Result<T, DdlError> {
        Err(syntax(self.offset(), expected, self.peek()))
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn keyword(&mut self, kw: &str) -> Result<(), DdlError> {
        if self.is_keyword(kw) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(&format!("`{kw}`"))
        }
    }

    fn punct(&mut self, c: char) -> Result<(), DdlError> {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(&format!("`{c}`"))
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, DdlError> {
        match self.peek() {
            Some(Tok::Word(w) | Tok::Quoted(w)) => {
                let w = w.to_ascii_lowercase();
                self.pos += 1;
                Ok(w)
            }
            _ => self.fail(what),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, DdlError> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.fail(what),
        }
    }

    fn optional_comment(&mut self) -> Result<Option<String>, DdlError> {
        if self.is_keyword("COMMENT") {
            self.pos += 1;
            Ok(Some(self.string("a comment string")?))
        } else {
            Ok(None)
        }
    }

    fn column_list(&mut self) -> Result<Vec<ColumnDef>, DdlError> {
        self.punct('(')?;
        let mut columns = Vec::new();
        loop {
            let name = self.ident("a column name")?;
            let type_offset = self.offset();
            let type_word = self.ident("a column type")?;
            let hive_type =
                HiveType::from_keyword(&type_word).ok_or_else(|| DdlError::UnsupportedType {
                    column: name.clone(),
                    type_name: type_word.to_ascii_uppercase(),
                })?;
            // A type with parameters, e.g. VARCHAR(10), is not ours.
            if self.peek() == Some(&Tok::Punct('(')) {
                return Err(syntax(
                    type_offset,
                    "a type without parameters",
                    self.peek(),
                ));
            }
            let comment = self.optional_comment()?;
            columns.push(ColumnDef {
                name,
                hive_type,
                comment,
            });
            if self.peek() == Some(&Tok::Punct(',')) {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.punct(')')?;
        Ok(columns)
    }
}

impl TableDef {
    /// Parses one `CREATE EXTERNAL TABLE` statement of the accepted subset (module docs).
    ///
    /// # Errors
    /// [`DdlError`] naming the first token that does not fit, an unsupported column type, or a
    /// duplicate column name.
    pub fn parse(sql: &str) -> Result<TableDef, DdlError> {
        let mut p = Parser {
            toks: tokenize(sql)?,
            pos: 0,
            end: sql.len(),
        };
        p.keyword("CREATE")?;
        p.keyword("EXTERNAL")?;
        p.keyword("TABLE")?;
        if p.is_keyword("IF") {
            p.pos += 1;
            p.keyword("NOT")?;
            p.keyword("EXISTS")?;
        }
        match p.peek() {
            Some(Tok::Placeholder(name)) if name == "DATABASE" => p.pos += 1,
            _ => return p.fail("`${DATABASE}` before the table name"),
        }
        p.punct('.')?;
        let name = p.ident("a table name")?;
        let columns = p.column_list()?;
        let comment = p.optional_comment()?;
        p.keyword("PARTITIONED")?;
        p.keyword("BY")?;
        let partition_keys = p.column_list()?;
        p.keyword("STORED")?;
        p.keyword("AS")?;
        let format = if p.is_keyword("ORC") {
            StorageFormat::Orc
        } else if p.is_keyword("TEXTFILE") {
            StorageFormat::TextFile
        } else {
            return p.fail("`ORC` or `TEXTFILE`");
        };
        p.pos += 1;
        p.keyword("LOCATION")?;
        let location_template = p.string("a location string")?;
        if p.peek() == Some(&Tok::Punct(';')) {
            p.pos += 1;
        }
        if p.peek().is_some() {
            return p.fail("end of statement");
        }
        let mut seen = std::collections::HashSet::new();
        for c in columns.iter().chain(&partition_keys) {
            if !seen.insert(c.name.as_str()) {
                return Err(DdlError::DuplicateColumn(c.name.clone()));
            }
        }
        Ok(TableDef {
            name,
            columns,
            partition_keys,
            comment,
            format,
            location_template,
            sql: sql.to_string(),
        })
    }

    /// The table's HDFS location for a database whose directory is `db_location`
    /// (e.g. `hdfs://127.0.0.1:9000/user/hive/warehouse` → `…/warehouse/page_analytics`).
    pub fn location(&self, db_location: &str) -> String {
        self.location_template
            .replace("${DB_LOCATION}", db_location.trim_end_matches('/'))
    }

    /// The DDL text with `${DATABASE}` and `${DB_LOCATION}` filled in, ready for Hive SQL.
    ///
    /// # Errors
    /// [`DdlError::InvalidDatabase`] when `database` is not a plain identifier.
    pub fn render(&self, database: &str, db_location: &str) -> Result<String, DdlError> {
        validate_database(database)?;
        Ok(self
            .sql
            .replace("${DATABASE}", database)
            .replace("${DB_LOCATION}", db_location.trim_end_matches('/')))
    }

    /// The data column named `name`, if any.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Checks that `database` is a plain Hive identifier: 1 to 128 of `[a-z0-9_]`, not starting
/// with a digit (so it never needs quoting in SQL).
///
/// # Errors
/// [`DdlError::InvalidDatabase`].
pub fn validate_database(database: &str) -> Result<(), DdlError> {
    let ok = !database.is_empty()
        && database.len() <= 128
        && !database.starts_with(|c: char| c.is_ascii_digit())
        && database
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(DdlError::InvalidDatabase(database.to_string()))
    }
}

/// The directory of a database's tables, by Hive's own rule: the warehouse itself for
/// `default`, `<warehouse>/<database>.db` for any other.
pub fn database_location(warehouse: &str, database: &str) -> String {
    let warehouse = warehouse.trim_end_matches('/');
    if database == "default" {
        warehouse.to_string()
    } else {
        format!("{warehouse}/{database}.db")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "-- a comment\n\
        CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.t (\n\
          a STRING COMMENT 'it''s a',\n\
          B bigint,\n\
          ts TIMESTAMP -- trailing comment\n\
        )\n\
        COMMENT 'the table'\n\
        PARTITIONED BY (dt STRING)\n\
        STORED AS ORC\n\
        LOCATION '${DB_LOCATION}/t';\n";

    #[test]
    fn parses_columns_partitions_and_location() {
        let t = TableDef::parse(SAMPLE).unwrap();
        assert_eq!(t.name, "t");
        let cols: Vec<_> = t
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.hive_type))
            .collect();
        assert_eq!(
            cols,
            vec![
                ("a", HiveType::String),
                ("b", HiveType::Bigint),
                ("ts", HiveType::Timestamp)
            ]
        );
        assert_eq!(t.columns[0].comment.as_deref(), Some("it's a"));
        assert_eq!(t.comment.as_deref(), Some("the table"));
        assert_eq!(t.partition_keys.len(), 1);
        assert_eq!(t.partition_keys[0].name, "dt");
        assert_eq!(t.location("hdfs://nn:9000/wh/"), "hdfs://nn:9000/wh/t");
    }

    #[test]
    fn every_type_keyword_and_its_metastore_name() {
        for (word, hive_type, name) in [
            ("STRING", HiveType::String, "string"),
            ("bigint", HiveType::Bigint, "bigint"),
            ("INT", HiveType::Int, "int"),
            ("Integer", HiveType::Int, "int"),
            ("BOOLEAN", HiveType::Boolean, "boolean"),
            ("timestamp", HiveType::Timestamp, "timestamp"),
            ("BINARY", HiveType::Binary, "binary"),
        ] {
            let sql = SAMPLE.replace("B bigint", &format!("b {word}"));
            let def = TableDef::parse(&sql).unwrap();
            assert_eq!(def.column("b").unwrap().hive_type, hive_type, "{word}");
            assert_eq!(hive_type.metastore_name(), name);
            assert_eq!(hive_type.to_string(), name);
        }
    }

    #[test]
    fn text_tables_and_quoted_names() {
        let text = SAMPLE
            .replace("ORC", "TEXTFILE")
            .replace("PARTITIONED BY (dt STRING", "PARTITIONED BY (`Date` STRING");
        let def = TableDef::parse(&text).unwrap();
        assert_eq!(def.format, StorageFormat::TextFile);
        assert_eq!(def.partition_keys[0].name, "date");
        assert_eq!(TableDef::parse(SAMPLE).unwrap().format, StorageFormat::Orc);
    }

    #[test]
    fn renders_placeholders() {
        let t = TableDef::parse(SAMPLE).unwrap();
        let sql = t.render("analytics", "hdfs://nn/wh/analytics.db").unwrap();
        assert!(sql.contains("EXISTS analytics.t ("), "{sql}");
        assert!(
            sql.contains("LOCATION 'hdfs://nn/wh/analytics.db/t'"),
            "{sql}"
        );
        assert!(!sql.contains("${"), "{sql}");
        assert!(t.render("drop table x;--", "/wh").is_err());
    }

    #[test]
    fn rejects_what_is_not_our_subset() {
        let bad_type = SAMPLE.replace("B bigint", "b DOUBLE");
        assert!(matches!(
            TableDef::parse(&bad_type),
            Err(DdlError::UnsupportedType { ref column, .. }) if column == "b"
        ));
        // Hive's name is BOOLEAN; BOOL is not a Hive type.
        let bool_keyword = SAMPLE.replace("B bigint", "b BOOL");
        assert!(matches!(
            TableDef::parse(&bool_keyword),
            Err(DdlError::UnsupportedType { ref type_name, .. }) if type_name == "BOOL"
        ));
        let varchar = SAMPLE.replace("a STRING", "a VARCHAR(3)");
        assert!(TableDef::parse(&varchar).is_err());
        let managed = SAMPLE.replace("EXTERNAL ", "");
        assert!(matches!(
            TableDef::parse(&managed),
            Err(DdlError::Syntax { .. })
        ));
        let unqualified = SAMPLE.replace("${DATABASE}.t", "t");
        assert!(TableDef::parse(&unqualified).is_err());
        let parquet = SAMPLE.replace("ORC", "PARQUET");
        assert!(TableDef::parse(&parquet).is_err());
        let unclosed = SAMPLE.replace("a STRING", "`a STRING");
        assert!(TableDef::parse(&unclosed).is_err());
        let trailing = SAMPLE.replace("/t';", "/t' TBLPROPERTIES ('a'='b');");
        assert!(TableDef::parse(&trailing).is_err());
        let dup = SAMPLE.replace("B bigint", "dt bigint");
        assert_eq!(
            TableDef::parse(&dup),
            Err(DdlError::DuplicateColumn("dt".into()))
        );
        assert!(TableDef::parse("CREATE EXTERNAL TABLE ${DATABASE}.t (a STRING").is_err());
        assert!(
            TableDef::parse("CREATE EXTERNAL TABLE ${DATABASE}.t (a STRING COMMENT 'x)").is_err()
        );
    }

    #[test]
    fn syntax_errors_say_where_and_what() {
        let err = TableDef::parse("CREATE TABLE x").unwrap_err();
        assert_eq!(
            err,
            DdlError::Syntax {
                offset: 7,
                expected: "`EXTERNAL`".into(),
                found: "`TABLE`".into()
            }
        );
    }

    #[test]
    fn database_names_and_locations() {
        assert!(validate_database("default").is_ok());
        assert!(validate_database("wa_test_01").is_ok());
        for bad in ["", "Upper", "a-b", "a.b", "1db", "a b"] {
            assert!(validate_database(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            database_location("hdfs://nn/wh/", "default"),
            "hdfs://nn/wh"
        );
        assert_eq!(database_location("hdfs://nn/wh", "x"), "hdfs://nn/wh/x.db");
    }
}
