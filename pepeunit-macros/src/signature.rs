//! The signature checks the three macros share; every problem is collected, none stops the others.

use syn::spanned::Spanned;
use syn::{FnArg, Signature, Type};

use crate::errors::Errors;

/// Checks that `sig` is a plain function (no generics, no `self`) taking the arguments `expected`
/// describes (`unit: PepeunitClient`, …); returns the types of the arguments it has.
pub(crate) fn check<'a>(
    sig: &'a Signature,
    attribute: &str,
    expected: &[&str],
    errors: &mut Errors,
) -> Vec<&'a Type> {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!("`#[pepeunit::{attribute}]` functions cannot be generic"),
        );
    }
    let mut types = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.at(
                receiver,
                format!(
                    "`#[pepeunit::{attribute}]` takes a free function, not a method with `self`"
                ),
            ),
            FnArg::Typed(typed) => types.push(&*typed.ty),
        }
    }
    if sig.inputs.len() != expected.len() {
        let span = match sig.inputs.is_empty() {
            true => sig.paren_token.span.join(),
            false => sig.inputs.span(),
        };
        errors.push(syn::Error::new(
            span,
            format!(
                "`#[pepeunit::{attribute}]` takes `({})`, found {} argument{}",
                expected.join(", "),
                sig.inputs.len(),
                if sig.inputs.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "variadic arguments are not allowed here");
    }
    types
}
