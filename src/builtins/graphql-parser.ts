// graphql-js's parser where gqlparser's grammar differs from it: the few places gqlparser accepts more.
import { Kind, TokenKind, type DefinitionNode, type InputObjectTypeExtensionNode, type VariableDefinitionNode } from 'graphql';
import { Parser } from 'graphql/language/parser.js';

/**
 * gqlparser reads directives on a variable definition and on an input-object extension as non-constant
 * (a `$variable` is allowed there), and lets an empty description ("") stand before `extend`; graphql-js
 * refuses all three. Everything else is graphql-js's own grammar.
 */
export class GqlparserGrammarParser extends Parser {
  override parseVariableDefinition(): VariableDefinitionNode {
    const start = this._lexer.token;
    const description = this.parseDescription();
    const variable = this.parseVariable();
    this.expectToken(TokenKind.COLON);
    const type = this.parseTypeReference();
    const defaultValue = this.expectOptionalToken(TokenKind.EQUALS) ? this.parseConstValueLiteral() : undefined;
    return this.node<VariableDefinitionNode>(start, {
      kind: Kind.VARIABLE_DEFINITION,
      description,
      variable,
      type,
      defaultValue,
      directives: this.parseDirectives(false) as VariableDefinitionNode['directives'],
    });
  }

  override parseInputObjectTypeExtension(): InputObjectTypeExtensionNode {
    const start = this._lexer.token;
    this.expectKeyword('extend');
    this.expectKeyword('input');
    const name = this.parseName();
    const directives = this.parseDirectives(false) as InputObjectTypeExtensionNode['directives'];
    const fields = this.parseInputFieldsDefinition();
    if ((directives?.length ?? 0) === 0 && fields.length === 0) throw this.unexpected();
    return this.node<InputObjectTypeExtensionNode>(start, { kind: Kind.INPUT_OBJECT_TYPE_EXTENSION, name, directives, fields });
  }

  override parseDefinition(): DefinitionNode {
    const token = this._lexer.token;
    if ((token.kind === TokenKind.STRING || token.kind === TokenKind.BLOCK_STRING) && token.value === '') {
      const next = this._lexer.lookahead();
      if (next.kind === TokenKind.NAME && next.value === 'extend') {
        // gqlparser drops the empty description (and the comments before it) and parses the extension.
        this._lexer.advance();
        return this.parseTypeSystemExtension();
      }
    }
    return super.parseDefinition();
  }
}
