<?xml version="1.0" encoding="UTF-8"?>
<!--
  Factory ERP's bonded materials movement (xsd/partners/erp-materials.xsd) → Golden-2 bonded verification
  list INV101 in its client package, DRAFT profile (xsd/golden2/golden2-inv101-draft.xsd: no SignedInfo /
  SignatureValue yet — portgate or the client signs it). Every element is in the xmldsig namespace,
  written as the default namespace like samples/golden2/. Field by field: docs/partners/erp-materials.md.

  - EtpsInnerInvtNo (the key receipts come back with, FORMATS.md §1) is the ERP's movementNo.
  - movementType → ImpexpMarkcd / MtpckEndprdMarkcd (FORMATS.md §6: I materials, E products).
  - SysId: Z7 for a processing-trade handbook (手册, number starting B or C), Z8 for an account book
    (账册, starting E); any other book kind is refused (PG-306).
  - The declarant (DclEtps*, InputCode/InputName), the sender's DXP id and the Golden-2 receiver come from
    the route's parameters: declarantScc, declarantCode, declarantName, dxpId, receiverId.
  - Codes through pg:code (ISO → customs; "pcs" → 011), lines renumbered 1, 2, 3 … (GdsSeqno).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:m="urn:portgate:partner:erp-materials:1"
                xmlns:pg="urn:portgate:xpath"
                xmlns="http://www.w3.org/2000/09/xmldsig#"
                extension-element-prefixes="pg"
                exclude-result-prefixes="m pg">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>

  <xsl:variable name="lower" select="'abcdefghijklmnopqrstuvwxyz'"/>
  <xsl:variable name="upper" select="'ABCDEFGHIJKLMNOPQRSTUVWXYZ'"/>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">the document element must be MaterialMovement in urn:portgate:partner:erp-materials:1</xsl:message>
  </xsl:template>

  <xsl:template match="/m:MaterialMovement">
    <xsl:variable name="doc" select="m:movementNo"/>
    <xsl:variable name="type" select="m:movementType"/>
    <xsl:variable name="dcl">
      <xsl:choose>
        <xsl:when test="m:declarationType = 'CHANGE'">2</xsl:when>
        <xsl:when test="m:declarationType = 'DELETE'">3</xsl:when>
        <xsl:otherwise>1</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:if test="$dcl != '1' and not(m:customsSeqNo)">
      <xsl:message terminate="yes">MaterialMovement <xsl:value-of select="$doc"/> declarationType <xsl:value-of select="m:declarationType"/>: customsSeqNo (the list's 统一编号 from the first declaration) is required to change or delete a list</xsl:message>
    </xsl:if>
    <xsl:variable name="book" select="substring(m:accountBookNo, 1, 1)"/>
    <xsl:variable name="sysId">
      <xsl:choose>
        <xsl:when test="$book = 'E'">Z8</xsl:when>
        <xsl:when test="$book = 'B' or $book = 'C'">Z7</xsl:when>
        <xsl:otherwise>
          <xsl:message terminate="yes">MaterialMovement <xsl:value-of select="$doc"/> accountBookNo <xsl:value-of select="m:accountBookNo"/>: not a processing-trade handbook (B…, C…) or account book (E…)</xsl:message>
        </xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="declared" select="not(m:withDeclaration) or normalize-space(m:withDeclaration) = 'true' or normalize-space(m:withDeclaration) = '1'"/>
    <xsl:variable name="proc" select="(m:processingEnterprise | m:operatingEnterprise[not(../m:processingEnterprise)])[1]"/>

    <Signature>
      <Object>
        <Package>
          <EnvelopInfo>
            <version>1.0</version>
            <message_id><xsl:value-of select="pg:guid()"/></message_id>
            <file_name><xsl:value-of select="concat('INV101_', $doc, '.xml')"/></file_name>
            <message_type>INV101</message_type>
            <sender_id><xsl:value-of select="pg:param('dxpId')"/></sender_id>
            <receiver_id><xsl:value-of select="pg:param('receiverId')"/></receiver_id>
            <send_time><xsl:value-of select="pg:now('yyyy-MM-ddTHH:mm:ss')"/></send_time>
          </EnvelopInfo>
          <DataInfo>
            <BussinessData>
              <DelcareFlag>
                <xsl:choose>
                  <xsl:when test="normalize-space(m:declare) = 'false' or normalize-space(m:declare) = '0'">0</xsl:when>
                  <xsl:otherwise>1</xsl:otherwise>
                </xsl:choose>
              </DelcareFlag>
              <InvtMessage>
                <SysId><xsl:value-of select="$sysId"/></SysId>
                <OperCusRegCode><xsl:value-of select="m:operatingEnterprise/m:customsCode"/></OperCusRegCode>
                <InvtHeadType>
                  <SeqNo><xsl:value-of select="m:customsSeqNo"/></SeqNo>
                  <BondInvtNo><xsl:value-of select="m:bondInvtNo"/></BondInvtNo>
                  <EtpsInnerInvtNo><xsl:value-of select="$doc"/></EtpsInnerInvtNo>
                  <PutrecNo><xsl:value-of select="m:accountBookNo"/></PutrecNo>
                  <BizopEtpsSccd><xsl:value-of select="m:operatingEnterprise/m:uscc"/></BizopEtpsSccd>
                  <BizopEtpsno><xsl:value-of select="m:operatingEnterprise/m:customsCode"/></BizopEtpsno>
                  <BizopEtpsNm><xsl:value-of select="m:operatingEnterprise/m:name"/></BizopEtpsNm>
                  <RcvgdEtpsSccd><xsl:value-of select="$proc/m:uscc"/></RcvgdEtpsSccd>
                  <RcvgdEtpsno><xsl:value-of select="$proc/m:customsCode"/></RcvgdEtpsno>
                  <RcvgdEtpsNm><xsl:value-of select="$proc/m:name"/></RcvgdEtpsNm>
                  <DclEtpsSccd><xsl:value-of select="pg:param('declarantScc')"/></DclEtpsSccd>
                  <DclEtpsno><xsl:value-of select="pg:param('declarantCode')"/></DclEtpsno>
                  <DclEtpsNm><xsl:value-of select="pg:param('declarantName')"/></DclEtpsNm>
                  <ImpexpMarkcd>
                    <xsl:choose>
                      <xsl:when test="$type = 'MATERIAL_RECEIPT' or $type = 'PRODUCT_RETURN'">I</xsl:when>
                      <xsl:otherwise>E</xsl:otherwise>
                    </xsl:choose>
                  </ImpexpMarkcd>
                  <MtpckEndprdMarkcd>
                    <xsl:choose>
                      <xsl:when test="$type = 'MATERIAL_RECEIPT' or $type = 'MATERIAL_REEXPORT'">I</xsl:when>
                      <xsl:otherwise>E</xsl:otherwise>
                    </xsl:choose>
                  </MtpckEndprdMarkcd>
                  <SupvModecd><xsl:value-of select="m:tradeMode"/></SupvModecd>
                  <TrspModecd>
                    <xsl:call-template name="transport-mode">
                      <xsl:with-param name="mode" select="normalize-space(m:transportMode)"/>
                    </xsl:call-template>
                  </TrspModecd>
                  <ImpexpPortcd><xsl:value-of select="m:port"/></ImpexpPortcd>
                  <DclPlcCuscd><xsl:value-of select="m:customsOffice"/></DclPlcCuscd>
                  <xsl:choose>
                    <xsl:when test="$declared">
                      <!-- 1 报关; 2 对应报关 (the declaration is generated from this list, INV202); 1 报关单. -->
                      <DclcusFlag>1</DclcusFlag>
                      <DclcusTypecd>2</DclcusTypecd>
                      <DecType>1</DecType>
                    </xsl:when>
                    <xsl:otherwise>
                      <DclcusFlag>2</DclcusFlag>
                    </xsl:otherwise>
                  </xsl:choose>
                  <!-- 0 普通清单 -->
                  <InvtType>0</InvtType>
                  <DclTypecd><xsl:value-of select="$dcl"/></DclTypecd>
                  <xsl:if test="m:counterpartCountry">
                    <StshipTrsarvNatcd><xsl:value-of select="pg:code('country', m:counterpartCountry)"/></StshipTrsarvNatcd>
                  </xsl:if>
                  <InputCode><xsl:value-of select="pg:param('declarantCode')"/></InputCode>
                  <InputName><xsl:value-of select="pg:param('declarantName')"/></InputName>
                  <xsl:if test="m:remark">
                    <Rmk><xsl:value-of select="m:remark"/></Rmk>
                  </xsl:if>
                </InvtHeadType>
                <xsl:apply-templates select="m:lines/m:line"/>
              </InvtMessage>
            </BussinessData>
          </DataInfo>
        </Package>
      </Object>
    </Signature>
  </xsl:template>

  <xsl:template match="m:line">
    <InvtListType>
      <GdsSeqno><xsl:value-of select="position()"/></GdsSeqno>
      <PutrecSeqno><xsl:value-of select="number(m:bookItemNo)"/></PutrecSeqno>
      <GdsMtno><xsl:value-of select="m:partNo"/></GdsMtno>
      <Gdecd><xsl:value-of select="m:hsCode"/></Gdecd>
      <GdsNm><xsl:value-of select="m:name"/></GdsNm>
      <GdsSpcfModelDesc><xsl:value-of select="m:spec"/></GdsSpcfModelDesc>
      <DclUnitcd><xsl:call-template name="unit"><xsl:with-param name="u" select="m:unit"/></xsl:call-template></DclUnitcd>
      <LawfUnitcd><xsl:call-template name="unit"><xsl:with-param name="u" select="m:legalUnit"/></xsl:call-template></LawfUnitcd>
      <xsl:if test="m:secondUnit">
        <SecdLawfUnitcd><xsl:call-template name="unit"><xsl:with-param name="u" select="m:secondUnit"/></xsl:call-template></SecdLawfUnitcd>
      </xsl:if>
      <DclQty><xsl:value-of select="pg:round(m:qty, 5)"/></DclQty>
      <LawfQty><xsl:value-of select="pg:round(m:legalQty, 5)"/></LawfQty>
      <xsl:if test="m:secondQty">
        <SecdLawfQty><xsl:value-of select="pg:round(m:secondQty, 5)"/></SecdLawfQty>
      </xsl:if>
      <DclUprcAmt><xsl:value-of select="pg:round(m:unitPrice, 4)"/></DclUprcAmt>
      <DclTotalAmt><xsl:value-of select="pg:round(m:amount, 2)"/></DclTotalAmt>
      <DclCurrcd><xsl:value-of select="pg:code('currency', m:currency)"/></DclCurrcd>
      <Natcd><xsl:value-of select="pg:code('country', m:originCountry)"/></Natcd>
      <xsl:if test="m:destinationCountry">
        <DestinationNatcd><xsl:value-of select="pg:code('country', m:destinationCountry)"/></DestinationNatcd>
      </xsl:if>
      <LvyrlfModecd><xsl:value-of select="m:dutyMode"/></LvyrlfModecd>
      <xsl:if test="m:remark">
        <Rmk><xsl:value-of select="m:remark"/></Rmk>
      </xsl:if>
    </InvtListType>
  </xsl:template>

  <!-- Transport: the ERP's words, else a customs code checked against transport-mode.tsv. -->
  <xsl:template name="transport-mode">
    <xsl:param name="mode"/>
    <xsl:choose>
      <xsl:when test="$mode = 'SEA'">2</xsl:when>
      <xsl:when test="$mode = 'RAIL'">3</xsl:when>
      <xsl:when test="$mode = 'ROAD'">4</xsl:when>
      <xsl:when test="$mode = 'AIR'">5</xsl:when>
      <xsl:when test="$mode = 'POST'">6</xsl:when>
      <xsl:when test="$mode = 'OTHER'">9</xsl:when>
      <xsl:otherwise><xsl:value-of select="pg:code('transport-mode', $mode)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- Units: "pcs" (and its spellings) is 件 011, which unit.tsv has no alias for; the rest through the table. -->
  <xsl:template name="unit">
    <xsl:param name="u"/>
    <xsl:variable name="l" select="translate(normalize-space($u), $upper, $lower)"/>
    <xsl:choose>
      <xsl:when test="$l = 'pcs' or $l = 'pc' or $l = 'piece' or $l = 'pieces'">011</xsl:when>
      <xsl:otherwise><xsl:value-of select="pg:code('unit', $u)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
