//! Attribute arguments: a leading topic name (`"output/pepeunit"`), bare flags (`mqtt`) and options
//! (`every = "5s"`), parsed into a list first and given meaning by each attribute's configuration.

use std::time::Duration;

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// One comma-separated argument.
pub(crate) enum Arg {
    /// `"name"`.
    Name(LitStr),
    /// `flag`.
    Flag(Ident),
    /// `key = value`; the value is any expression so that `mqtt = true` parses and gets a precise error.
    Option { key: Ident, value: Expr },
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Arg::Name(input.parse()?));
        }
        let key: Ident = input.parse()?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            return Ok(Arg::Option {
                key,
                value: input.parse()?,
            });
        }
        Ok(Arg::Flag(key))
    }
}

/// The arguments of an attribute, in order.
pub(crate) fn parse(attr: TokenStream) -> syn::Result<Vec<Arg>> {
    Ok(Punctuated::<Arg, Token![,]>::parse_terminated
        .parse2(attr)?
        .into_iter()
        .collect())
}

/// An option's value as a string literal, or an error naming the option and the form it takes.
pub(crate) fn string_value(key: &Ident, value: Expr, form: &str) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Ok(lit),
        other => Err(syn::Error::new_spanned(
            other,
            format!("`{key}` takes a string: `{key} = {form}`"),
        )),
    }
}

/// A duration written as a number and a unit: `250ms`, `5s`, `1.5s`, `2m`, `1h`; positive.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    let malformed = || {
        format!(
            "malformed duration `{text}`: write a positive number and a unit, e.g. `250ms`, `5s`, `1.5s`, `2m`, `1h`"
        )
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(malformed)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| malformed())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(malformed()),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(malformed)
}

/// Whether `text` is written like an env.json variable name (`DELAY_PUB_MSG`), not a duration.
pub(crate) fn is_variable_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in [
            "",
            "5",
            "s",
            "5x",
            "0s",
            "1.2.3s",
            "-1s",
            "5 s",
            "0.0000000001ms",
        ] {
            assert!(duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn variable_names_are_told_from_durations() {
        assert!(is_variable_name("DELAY_PUB_MSG"));
        assert!(is_variable_name("_X1"));
        assert!(!is_variable_name("5s"));
        assert!(!is_variable_name("DELAY-MSG"));
        assert!(!is_variable_name(""));
    }
}
