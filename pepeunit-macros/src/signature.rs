//! The signature checks the three macros share; every problem is collected, none stops the others.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, PathArguments, ReturnType, Signature, Type};

use crate::errors::Errors;

/// Checks that `sig` is a plain function (no generics, no `self`, no variadic); returns the types
/// of its arguments.
pub(crate) fn arguments<'a>(
    sig: &'a Signature,
    attribute: &str,
    errors: &mut Errors,
) -> Vec<&'a Type> {
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!("`#[pepeunit::{attribute}]` functions cannot be generic"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic, "variadic arguments are not allowed here");
    }
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Receiver(receiver) => {
                errors.at(
                    receiver,
                    format!(
                        "`#[pepeunit::{attribute}]` takes a free function, not a method with `self`"
                    ),
                );
                None
            }
            FnArg::Typed(typed) => Some(&*typed.ty),
        })
        .collect()
}

/// An error unless `sig` has at most `max` arguments, saying what it takes.
pub(crate) fn at_most(
    sig: &Signature,
    max: usize,
    attribute: &str,
    takes: &str,
    errors: &mut Errors,
) {
    if sig.inputs.len() > max {
        errors.at(
            &sig.inputs,
            format!(
                "`#[pepeunit::{attribute}]` takes {takes}, found {} arguments",
                sig.inputs.len()
            ),
        );
    }
}

/// Where a type error about the return value belongs: the return type, else the function's name.
pub(crate) fn return_span(sig: &Signature) -> Span {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    }
}

/// Whether the function returns nothing to publish: no return type, `()`, or a `Result<(), E>`
/// (any path ending in `Result` whose first argument is `()`, so aliases like `pepeunit::Result<()>`
/// count). Read from the tokens: a macro cannot see through other type aliases.
pub(crate) fn returns_unit(sig: &Signature) -> bool {
    let ReturnType::Type(_, ty) = &sig.output else {
        return true;
    };
    match &**ty {
        Type::Tuple(tuple) => tuple.elems.is_empty(),
        Type::Path(path) => path.path.segments.last().is_some_and(|last| {
            last.ident == "Result"
                && matches!(&last.arguments, PathArguments::AngleBracketed(args)
                    if matches!(args.args.first(), Some(GenericArgument::Type(Type::Tuple(t))) if t.elems.is_empty()))
        }),
        _ => false,
    }
}
