//! The function under an attribute, parsed only as far as the macros need: attributes, visibility
//! and signature. The body stays the tokens the user wrote, so a syntax error inside it reaches the
//! user as rustc's own message rather than as "this attribute applies to a function".

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::{ToTokens, TokenStreamExt};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Visibility};

/// `#[attrs] vis sig { body }`.
pub(crate) struct UnitFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The `{ … }` group, unparsed.
    pub(crate) body: TokenTree,
}

impl Parse for UnitFn {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body: TokenTree = input.parse()?;
        match &body {
            TokenTree::Group(group)
                if group.delimiter() == Delimiter::Brace && input.is_empty() =>
            {
                Ok(UnitFn {
                    attrs,
                    vis,
                    sig,
                    body,
                })
            }
            _ => Err(input.error("expected the function's body")),
        }
    }
}

impl ToTokens for UnitFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(tokens);
        self.sig.to_tokens(tokens);
        self.body.to_tokens(tokens);
    }
}
