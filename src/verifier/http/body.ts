// JSON bodies must be UTF-8: bytes that are not are refused (400 ERR_NOT_UTF8) rather than turned
// into replacement characters that would then be hashed as part of a password. (Valid UTF-8 can
// still spell a lone surrogate as the escape \ud800: secrets holding one are refused where they are
// used, accounts/secret-text.ts.)
import type { FastifyInstance } from 'fastify';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function registerStrictJson(app: FastifyInstance): void {
  // Fastify's own parser (prototype-poisoning checks included), fed the strictly decoded text.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = strictUtf8.decode(body as Buffer);
    } catch {
      done(Object.assign(new Error('the body is not valid UTF-8'), { statusCode: 400, code: 'ERR_NOT_UTF8' }), undefined);
      return;
    }
    parseJson(request, text, (err, value) => {
      if (err) done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400, code: 'ERR_BAD_JSON' }), undefined);
      else done(null, value);
    });
  });
}
