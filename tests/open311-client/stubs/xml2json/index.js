// Stand-in for xml2json 0.2.x: open311 0.0.12 calls toJson() only when submitting in XML mode,
// which this harness does not use. Fails loudly if it is ever reached.
'use strict';
exports.toJson = function toJson() {
  throw new Error('xml2json stand-in: XML mode is not supported here; use format "json"');
};
