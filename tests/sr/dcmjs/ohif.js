// OHIF's side of recistry's SR tests, with dcmjs's legacy Cornerstone adapter (the one OHIF v2
// used, dcmjs.adapters.Cornerstone.MeasurementReport):
//
//   node ohif.js write SPEC.json OUT.dcm   writes a TID 1500 report from Cornerstone tool states
//   node ohif.js read IN.dcm OUT.json      reads a report back into Cornerstone tool states
//
// SPEC.json: {"patient": {PatientID, PatientName, StudyDate, ...},
//             "images": {imageId: {studyInstanceUID, seriesInstanceUID, sopClassUID,
//                                  sopInstanceUID}},
//             "toolState": {imageId: {"Length": {"data": [...]}, "Bidirectional": {...}}}}
// The tool data are what cornerstoneTools keeps: handles in image pixels (column, row), length
// or longest/shortest diameter in mm, optional finding and findingSites codes.
"use strict";
const fs = require("fs");
const dcmjs = require("dcmjs");

const { MeasurementReport } = dcmjs.adapters.Cornerstone;

// The legacy Bidirectional adapter does not pass the tool's unit to its TID 300 writer, which
// then writes UCUM "1" ("px"). A tool state that says its unit (mm on a calibrated image) has
// it forwarded here; without one, dcmjs's own px report is written (recistry refuses it).
const bidirectionalArguments = MeasurementReport.CORNERSTONE_TOOL_CLASSES_BY_TOOL_TYPE
  .Bidirectional.getTID300RepresentationArguments;
MeasurementReport.CORNERSTONE_TOOL_CLASSES_BY_TOOL_TYPE.Bidirectional.getTID300RepresentationArguments =
  (tool) => Object.assign(bidirectionalArguments(tool), tool.unit ? { unit: tool.unit } : {});

function write(specPath, outPath) {
  const spec = JSON.parse(fs.readFileSync(specPath, "utf8"));
  const metadataProvider = {
    get(type, imageId) {
      const image = spec.images[imageId];
      if (type === "generalSeriesModule") {
        return {
          studyInstanceUID: image.studyInstanceUID,
          seriesInstanceUID: image.seriesInstanceUID,
        };
      }
      if (type === "sopCommonModule") {
        return { sopClassUID: image.sopClassUID, sopInstanceUID: image.sopInstanceUID };
      }
      if (type === "frameNumber") {
        return 1;
      }
      return undefined;
    },
  };
  const report = MeasurementReport.generateReport(spec.toolState, metadataProvider);
  // The viewer copies the patient module of the images into the report, as OHIF does.
  Object.assign(report.dataset, spec.patient);
  const buffer = dcmjs.data.datasetToBuffer(report.dataset);
  fs.writeFileSync(outPath, Buffer.from(buffer));
}

function hasNum(group, meaning) {
  const items = [].concat(group.ContentSequence || []);
  return items.some(
    (item) =>
      item.ValueType === "NUM" && item.ConceptNameCodeSequence.CodeMeaning === meaning,
  );
}

function read(inPath, outPath) {
  const file = fs.readFileSync(inPath);
  const arrayBuffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength);
  const dicomDict = dcmjs.data.DicomMessage.readFile(arrayBuffer);
  const dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dicomDict.dict);
  const tools = MeasurementReport.CORNERSTONE_TOOL_CLASSES_BY_TOOL_TYPE;
  // recistry's tracking identifiers are lesion labels, not "cornerstoneTools@^4.0.0:<tool>":
  // OHIF's getToolClass hook picks the tool from the group's content instead.
  const getToolClass = (group) => {
    if (hasNum(group, "Long Axis") && hasNum(group, "Short Axis")) {
      return tools.Bidirectional;
    }
    if (hasNum(group, "Long Axis") || hasNum(group, "Length")) {
      return tools.Length;
    }
    return undefined;
  };
  const log = console.log;
  console.log = () => {}; // generateToolState logs every measurement
  let state;
  try {
    state = MeasurementReport.generateToolState(dataset, { getToolClass });
  } finally {
    console.log = log;
  }
  fs.writeFileSync(outPath, JSON.stringify(state, null, 1));
}

const [command, input, output] = process.argv.slice(2);
if (command === "write") {
  write(input, output);
} else if (command === "read") {
  read(input, output);
} else {
  process.stderr.write("usage: node ohif.js write SPEC.json OUT.dcm | read IN.dcm OUT.json\n");
  process.exit(2);
}
