//! The signature checks the three macros share; every problem is collected, none stops the others.

use proc_macro2::Span;
use quote::ToTokens;
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

/// How one argument of a handler is made.
pub(crate) enum Param<'a> {
    /// By the attribute's conversion (`FromMessage` for inputs, `FromUnit` for outputs and `main`);
    /// a `State<T>` handle is one of these.
    Made(&'a Type),
    /// `&T` or `&mut T` with `T` a unit state, locked for the call (`&str` and `&[u8]` are `Made`).
    Locked { state: &'a Type, mutable: bool },
}

/// Sorts the arguments into [`Param`]s, with an error for a state taken by reference in an
/// `async fn` (its lock would be held across `.await`s) and for one state taken twice (a second
/// lock would wait for the first).
pub(crate) fn params<'a>(
    sig: &Signature,
    types: &[&'a Type],
    errors: &mut Errors,
) -> Vec<Param<'a>> {
    let params: Vec<Param<'a>> = types.iter().map(|ty| param(ty)).collect();
    let mut seen: Vec<String> = Vec::new();
    for (param, ty) in params.iter().zip(types) {
        let state = match param {
            Param::Locked { state, mutable } => {
                if sig.asyncness.is_some() {
                    let taken = if *mutable { "&mut " } else { "&" };
                    let state = state.to_token_stream();
                    errors.at(
                        ty,
                        format!(
                            "an `async fn` cannot take `{taken}{state}`: its lock would be held across `.await`; \
                             take `State<{state}>` (its `get`, `set` and `update` lock only within each call), \
                             or make this a plain `fn`"
                        ),
                    );
                }
                Some(*state)
            }
            Param::Made(ty) => handle_state(ty),
        };
        let Some(state) = state else {
            continue;
        };
        let name = state.to_token_stream().to_string();
        if seen.contains(&name) {
            errors.at(
                ty,
                format!(
                    "this function takes the state `{name}` twice: take it once (a second lock would wait for the first)"
                ),
            );
        }
        seen.push(name);
    }
    params
}

fn param(ty: &Type) -> Param<'_> {
    let Type::Reference(reference) = ty else {
        return Param::Made(ty);
    };
    // `&str`, `&[u8]` are made from a message; `&PepeunitClient` is left to the conversion's error,
    // which lists what the function takes.
    let made = matches!(&*reference.elem, Type::Path(path)
        if path.path.is_ident("str")
            || path.path.segments.last().is_some_and(|last| last.ident == "PepeunitClient"));
    match made || matches!(&*reference.elem, Type::Slice(_)) {
        true => Param::Made(ty),
        false => Param::Locked {
            state: &reference.elem,
            mutable: reference.mutability.is_some(),
        },
    }
}

/// `T` of a `State<T>` argument.
fn handle_state(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    match &last.arguments {
        PathArguments::AngleBracketed(args) if last.ident == "State" && args.args.len() == 1 => {
            match args.args.first() {
                Some(GenericArgument::Type(state)) => Some(state),
                _ => None,
            }
        }
        _ => None,
    }
}
