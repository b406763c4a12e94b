// Stand-in for node-sparkxml: open311 0.0.12 calls parseXml() only in XML mode, which this
// harness does not use (whistle's XML answers are checked by a real XML parser in
// tests/open311/check_open311_render.c). Fails loudly if it is ever reached.
'use strict';
exports.parseXml = function parseXml() {
  throw new Error('sparkxml stand-in: XML mode is not supported here; use format "json"');
};
