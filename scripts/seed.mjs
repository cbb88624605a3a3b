// Reference data that `npm start` loads into the local D1 through the API, idempotently.
// The TRACE taxonomy is not here: it ships inside migration 0001 so deployed Workers and tests
// have it too. Dataset seeders (TRACE eval set, IFEval prompts) register in `seeders`.
export const seeders = [];

export async function seedReferenceData({ base, adminToken }) {
  for (const seeder of seeders) {
    await seeder({ base, adminToken });
  }
}
