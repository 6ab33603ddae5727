"""FHIR R4 face of the identity referential: FR Core Patient, PDQm, $match, PIXm."""
